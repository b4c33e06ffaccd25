"""Exchange rates: set or clear a manual rate, fetch the CBR's daily rates.

Rates are platform data (every tenant's conversions use them), so only platform superusers and
MSP operators may change them, and their audit events go on the platform chain (tenant NULL).
``actor=None`` is the system (the daily task, ``manage.py fetch_rates``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import record_event, snapshot
from core.capabilities import Role
from providers.adapters.base import ProviderError
from providers.costs import rates
from providers.focus.currencies import ISO_4217
from providers.models import ExchangeRate

MAX_FETCH_DAYS = 3700  # about ten years: a typo in --since should not mean a million requests


def _require_rates_admin(actor) -> None:
    if actor is None or actor.is_superuser:
        return
    from core.models import Membership

    operator = actor.is_staff and Membership.objects.filter(user=actor, role=Role.OPERATOR).exists()
    if not (actor.is_active and operator):
        raise PermissionDenied(_("Only platform administrators and MSP operators manage rates."))


def _currency(code: str) -> str:
    code = (code or "").strip().upper()
    if code not in ISO_4217 or code == rates.BASE_CURRENCY:
        raise ValidationError({"currency": _("Give an ISO 4217 currency other than RUB.")})
    return code


@transaction.atomic
def exchange_rate_set(*, actor, currency: str, date: dt.date, rate) -> ExchangeRate:
    """Set the manual rate (RUB per unit) of ``currency`` on ``date``; it beats the CBR's."""
    _require_rates_admin(actor)
    code = _currency(currency)
    try:
        value = Decimal(str(rate))
    except InvalidOperation:
        raise ValidationError({"rate": _("Not a number.")}) from None
    if not value.is_finite() or value <= 0:
        raise ValidationError({"rate": _("The rate must be a positive number.")})
    if value != value.quantize(rates.RATE_PLACES):
        raise ValidationError({"rate": _("At most 10 decimal places.")})
    existing = ExchangeRate.objects.filter(
        date=date, currency=code, source=ExchangeRate.Source.MANUAL
    ).first()
    before = snapshot(existing, ["date", "currency", "rate", "source"]) if existing else None
    row, _created = ExchangeRate.objects.update_or_create(
        date=date, currency=code, source=ExchangeRate.Source.MANUAL, defaults={"rate": value}
    )
    record_event(
        event_type="exchange_rate.set",
        actor=actor,
        target=row,
        before=before,
        after=snapshot(row, ["date", "currency", "rate", "source"]),
    )
    return row


@transaction.atomic
def exchange_rate_clear(*, actor, currency: str, date: dt.date) -> None:
    """Remove the manual rate of ``currency`` on ``date`` (the CBR's applies again)."""
    _require_rates_admin(actor)
    code = _currency(currency)
    row = ExchangeRate.objects.filter(
        date=date, currency=code, source=ExchangeRate.Source.MANUAL
    ).first()
    if row is None:
        raise ValidationError(
            _("There is no manual rate for %(c)s on %(d)s.") % {"c": code, "d": date}
        )
    record_event(
        event_type="exchange_rate.cleared",
        actor=actor,
        target=row,
        before=snapshot(row, ["date", "currency", "rate", "source"]),
    )
    row.delete()


def exchange_rates_fetch(
    *, actor=None, first_day: dt.date, last_day: dt.date | None = None, base_url: str | None = None
) -> dict:
    """Fetch and store the CBR's rates for every day of [first_day, last_day] (default: just
    first_day). Each day is stored as it arrives (a later failure keeps earlier days); one
    audit event sums the run up. Raises ProviderError after recording what was stored."""
    _require_rates_admin(actor)
    last_day = last_day or first_day
    if last_day < first_day:
        raise ValidationError(_("The last day comes before the first."))
    if (last_day - first_day).days > MAX_FETCH_DAYS:
        raise ValidationError(_("Fetch at most %(n)d days at once.") % {"n": MAX_FETCH_DAYS})
    base_url = base_url or settings.CBR_RATES_URL
    effective: set[dt.date] = set()
    rows, failure = 0, None
    for day in rates.days(first_day, last_day):
        try:
            daily = rates.fetch_cbr(day, base_url=base_url)
        except ProviderError as exc:
            failure = exc
            break
        if daily.date not in effective:  # weekends repeat the last rates: store them once
            with transaction.atomic():
                rows += rates.store(daily)
            effective.add(daily.date)
    summary = {
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "effective_dates": len(effective),
        "rows": rows,
        "error": str(failure) if failure else "",
    }
    with transaction.atomic():
        record_event(event_type="exchange_rates.fetched", actor=actor, extra=summary)
    if failure is not None:
        raise failure
    return summary
