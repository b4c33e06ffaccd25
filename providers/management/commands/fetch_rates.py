"""``manage.py fetch_rates --since YYYY-MM-DD [--until YYYY-MM-DD]``: backfill CBR rates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core import context
from providers.adapters.base import ProviderError
from providers.services.rates import exchange_rates_fetch


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a YYYY-MM-DD date: {text!r}") from None


class Command(BaseCommand):
    help = (
        "Fetch the Central Bank of Russia's daily rates for every day from --since to --until "
        "(default: tomorrow, Moscow time) from CBR_RATES_URL. Days already stored are updated."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--until", help="last day, YYYY-MM-DD (default: tomorrow)")
        parser.add_argument("--url", help="rates URL (default: the CBR_RATES_URL setting)")

    def handle(self, *args, since: str, until: str | None, url: str | None, **options):
        first = _date(since)
        tomorrow = dt.datetime.now(ZoneInfo("Europe/Moscow")).date() + dt.timedelta(days=1)
        last = _date(until) if until else tomorrow
        self.stdout.write(f"Fetching CBR rates for {first} .. {last} …")
        try:
            # The operator at the shell is the system acting (actor None), source "cli".
            with context.acting("cli"):
                summary = exchange_rates_fetch(first_day=first, last_day=last, base_url=url)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        except ProviderError as exc:
            raise CommandError(f"fetch failed (days before it were stored): {exc}") from None
        self.stdout.write(
            f"Stored {summary['rows']} rates for {summary['effective_dates']} effective dates."
        )
