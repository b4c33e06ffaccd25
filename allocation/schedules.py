"""Allocation's platform schedules (upserted after every migrate by ``core.schedules``)."""

PLATFORM_SCHEDULES = [
    {
        # Each metric has its own interval; this only looks for those that are due.
        "name": "platform: pull business metrics that are due",
        "task": "allocation.business_metrics_pull_due",
        "every": 300,
        "expires": 300,
    },
]
