"""Provider schedules: one dispatcher instead of a beat row per connection.

Why a dispatcher: each connection's due time is a column (``next_sync_at``) next to its status,
visible and editable in the admin and API; django-celery-beat's DatabaseScheduler reloads every
row whenever any row changes, and per-connection rows that change often make beat re-send running
tasks (celery#7570, django-celery-beat#558). Disabling a connection clears its due time, deleting
removes it; the sync lease still guarantees one run at a time.

Cost sources follow it too (``next_pull_at``, one dispatcher row); exchange rates are fetched
once a day after the CBR publishes them.

Runs left marked running by a worker that died (a sync, a metrics collection, an import, a queued
upload) are settled every few minutes by the reaper (``providers.services.recovery``).

Prepaid balances are read every ``BALANCE_COLLECT_INTERVAL_MINUTES`` (and after each sync) for
every connection whose provider reports one.

Metrics follow the same pattern: one beat row queues a collection for every connection with live
VMs each interval. Daily downsampling runs after midnight UTC has been covered by a collection
(and also revisits the day before, see ``days_to_downsample``); retention runs after it.
"""

from django.conf import settings

PLATFORM_SCHEDULES = [
    {
        "name": "providers: dispatch due syncs",
        "task": "providers.sync_dispatch",
        "every": settings.SYNC_DISPATCH_INTERVAL_SECONDS,
        "expires": max(settings.SYNC_DISPATCH_INTERVAL_SECONDS - 1, 1),
    },
    {
        "name": "providers: dispatch metric collection",
        "task": "providers.metrics_dispatch",
        "every": settings.METRICS_COLLECT_INTERVAL_MINUTES * 60,
        "expires": max(settings.METRICS_COLLECT_INTERVAL_MINUTES * 60 - 1, 1),
    },
    {
        "name": "providers: downsample metrics (daily)",
        "task": "providers.metrics_downsample",
        "crontab": {"minute": "30", "hour": "2"},
    },
    {
        "name": "providers: drop expired raw metrics (daily)",
        "task": "providers.metrics_expire",
        "crontab": {"minute": "50", "hour": "2"},
    },
    {
        "name": "providers: dispatch due cost pulls",
        "task": "providers.cost_source_dispatch",
        "every": settings.SYNC_DISPATCH_INTERVAL_SECONDS,
        "expires": max(settings.SYNC_DISPATCH_INTERVAL_SECONDS - 1, 1),
    },
    {
        "name": "providers: collect prepaid balances",
        "task": "providers.balances_dispatch",
        "every": settings.BALANCE_COLLECT_INTERVAL_MINUTES * 60,
        "expires": max(settings.BALANCE_COLLECT_INTERVAL_MINUTES * 60 - 1, 1),
    },
    {
        "name": "providers: reap runs of stopped workers",
        "task": "providers.stuck_runs_reap",
        "every": 5 * 60,
        "expires": 5 * 60 - 1,
    },
    {
        # The CBR sets rates by 15:30 Moscow time (12:30 UTC).
        "name": "providers: fetch CBR exchange rates (daily)",
        "task": "providers.exchange_rates_fetch",
        "crontab": {"minute": "5", "hour": "13"},
    },
]
