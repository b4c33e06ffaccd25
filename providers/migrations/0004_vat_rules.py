"""Russian VAT for the Russian clouds: 20% until 2025-12-31, 22% from 2026-01-01.

Rules are data: operators add or correct them in the admin; amounts are never computed with a
hard-coded rate.
"""

import datetime
from decimal import Decimal

from django.db import migrations

RUSSIAN_CLOUDS = ("Yandex Cloud", "Selectel", "VK Cloud", "Beget")
RATES = ((datetime.date(2019, 1, 1), Decimal("0.2000")), (datetime.date(2026, 1, 1), Decimal("0.2200")))


def seed(apps, schema_editor):
    VatRule = apps.get_model("providers", "VatRule")
    for provider in RUSSIAN_CLOUDS:
        for valid_from, rate in RATES:
            # RUB prices include VAT (Yandex: "inclusive of VAT in RUB and KZT, net in USD").
            VatRule.objects.get_or_create(
                provider_name=provider,
                currency="RUB",
                valid_from=valid_from,
                defaults={"rate": rate, "included_in_price": True},
            )


def unseed(apps, schema_editor):
    apps.get_model("providers", "VatRule").objects.filter(provider_name__in=RUSSIAN_CLOUDS).delete()


class Migration(migrations.Migration):
    dependencies = [("providers", "0003_cost_data")]

    operations = [migrations.RunPython(seed, unseed)]
