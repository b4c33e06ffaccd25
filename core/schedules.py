"""Static platform schedules, upserted by name after every migrate (never deleted wholesale, so
per-connection schedules created at run time are left alone)."""

from __future__ import annotations

PLATFORM_SCHEDULES = [
    # (name, task, crontab fields)
    ("platform: verify audit chains", "core.audit_chain_verify", {"minute": "17", "hour": "3"}),
]


def ensure_platform_schedules(**_) -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    for name, task, cron in PLATFORM_SCHEDULES:
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=cron.get("minute", "*"),
            hour=cron.get("hour", "*"),
            day_of_week=cron.get("day_of_week", "*"),
            day_of_month=cron.get("day_of_month", "*"),
            month_of_year=cron.get("month_of_year", "*"),
            timezone="UTC",
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={"task": task, "crontab": schedule, "interval": None, "enabled": True},
        )
