"""Static platform schedules, upserted by name after every migrate.

Each app may define ``<app>.schedules.PLATFORM_SCHEDULES``: a list of dicts with ``name``,
``task`` and either ``every`` (seconds) or ``crontab`` (a dict of crontab fields), plus optional
``expires`` (seconds). Rows are upserted by name and never deleted wholesale, so schedules created
at run time are left alone.
"""

from __future__ import annotations

import importlib

from django.apps import apps


def platform_schedules() -> list[dict]:
    found = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.schedules")
        except ModuleNotFoundError:
            continue
        found.extend(getattr(module, "PLATFORM_SCHEDULES", []))
    return found


def ensure_platform_schedules(**_) -> None:
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    for entry in platform_schedules():
        defaults = {"task": entry["task"], "enabled": True, "interval": None, "crontab": None}
        if "every" in entry:
            defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=int(entry["every"]), period=IntervalSchedule.SECONDS
            )
        else:
            cron = entry["crontab"]
            defaults["crontab"], _ = CrontabSchedule.objects.get_or_create(
                minute=cron.get("minute", "*"),
                hour=cron.get("hour", "*"),
                day_of_week=cron.get("day_of_week", "*"),
                day_of_month=cron.get("day_of_month", "*"),
                month_of_year=cron.get("month_of_year", "*"),
                timezone="UTC",
            )
        if entry.get("expires"):
            # Runs that pile up while workers are down expire instead of running late in a burst.
            defaults["expire_seconds"] = int(entry["expires"])
        PeriodicTask.objects.update_or_create(name=entry["name"], defaults=defaults)


PLATFORM_SCHEDULES = [
    {
        "name": "platform: verify audit chains",
        "task": "core.audit_chain_verify",
        "crontab": {"minute": "17", "hour": "3"},
    },
    {
        "name": "platform: purge expired replay claims",
        "task": "core.replay_purge",
        "crontab": {"minute": "41"},
        "expires": 3600,
    },
]
