"""Allocation's platform schedules (upserted after every migrate by ``core.schedules``)."""

PLATFORM_SCHEDULES = [
    {
        # Each metric has its own interval; this only looks for those that are due.
        "name": "platform: pull business metrics that are due",
        "task": "allocation.business_metrics_pull_due",
        "every": 300,
        "expires": 300,
    },
    {
        # Early on the 1st (UTC): last month's costs are mostly in by then; a late correction
        # is a re-issue.
        "name": "platform: monthly chargeback invoices",
        "task": "allocation.invoices_monthly",
        "crontab": {"minute": "0", "hour": "6", "day_of_month": "1"},
        "expires": 86400,
    },
]
