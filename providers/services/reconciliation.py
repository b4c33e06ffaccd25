"""Estimated costs checked against what the prepaid balance really lost.

A provider whose costs are computed from prices (``ProviderAdapter.cost_estimates``: Beget)
debits a prepaid balance that we collect as snapshots (``BalanceSnapshot``). Between two
snapshots of a period, the balance's decrease is what the provider took; the estimated rows
charged in that span (``charge_period_start`` after the first snapshot, up to the second: a
day's debit is taken at its start) are what we think it took. The difference is reported on the
cost pull's run (``ImportRun.warnings["balance_reconciliation"]``, shown by the admin and the API),
never "corrected": a payment into the account, a one-off charge (a domain renewal) or a server
removed since (its past days are unknown to the estimate) all explain differences that only a
person can tell apart.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from providers.adapters.base import CostPeriod
from providers.models import BalanceSnapshot, CostLineItem, ImportRun

KEY = "balance_reconciliation"
CENT = Decimal("0.01")


def reconcile_run(run: ImportRun, period: CostPeriod) -> dict | None:
    """The reconciliation of ``run``'s estimated rows over ``period``, per currency, or None
    when the period holds fewer than two balance snapshots of the connection."""
    if run.connection_id is None:
        return None
    totals = (
        BalanceSnapshot.objects.filter(
            tenant_id=run.tenant_id,
            connection_id=run.connection_id,
            collected_at__gte=period.start,
            collected_at__lt=period.end,
        )
        .values("currency", "collected_at")
        .annotate(total=Sum("amount"))
        .order_by("currency", "collected_at")
    )
    spans: dict[str, list] = {}
    for row in totals:
        spans.setdefault(row["currency"], []).append((row["collected_at"], row["total"]))
    figures = []
    for currency, points in sorted(spans.items()):
        if len(points) < 2:
            continue
        (first_at, first), (last_at, last) = points[0], points[-1]
        estimated = CostLineItem.objects.filter(
            tenant_id=run.tenant_id,
            x_import_run_id=run.pk,
            billing_currency=currency,
            charge_period_start__gt=first_at,
            charge_period_start__lte=last_at,
        ).aggregate(total=Sum("billed_cost"))["total"] or Decimal(0)
        decrease = first - last
        figures.append(
            {
                "currency": currency,
                "from": first_at.isoformat(),
                "to": last_at.isoformat(),
                "estimated": str(estimated.quantize(CENT)),
                "balance_decrease": str(decrease.quantize(CENT)),
                "difference": str((decrease - estimated).quantize(CENT)),
            }
        )
    if not figures:
        return None
    return {
        "count": len(figures),
        "examples": [
            {
                "value": f["currency"],
                "reason": (
                    f"estimated {f['estimated']} from {f['from']} to {f['to']}; the balance "
                    f"fell by {f['balance_decrease']}: difference {f['difference']} (payments, "
                    "one-off charges or resources the estimate does not know)"
                ),
            }
            for f in figures
        ],
        "figures": figures,
    }
