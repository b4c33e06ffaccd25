"""Provider schedules: one dispatcher instead of a beat row per connection.

Why a dispatcher: each connection's due time is a column (``next_sync_at``) next to its status,
visible and editable in the admin and API; django-celery-beat's DatabaseScheduler reloads every
row whenever any row changes, and per-connection rows that change often make beat re-send running
tasks (celery#7570, django-celery-beat#558). Disabling a connection clears its due time, deleting
removes it; the sync lease still guarantees one run at a time.
"""

from django.conf import settings

PLATFORM_SCHEDULES = [
    {
        "name": "providers: dispatch due syncs",
        "task": "providers.sync_dispatch",
        "every": settings.SYNC_DISPATCH_INTERVAL_SECONDS,
        "expires": max(settings.SYNC_DISPATCH_INTERVAL_SECONDS - 1, 1),
    },
]
