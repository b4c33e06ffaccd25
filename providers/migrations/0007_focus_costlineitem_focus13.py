"""FOCUS 1.3 columns on the line items, and Yandex Cloud rows loaded before them brought to the
current mapping (providers.costs.sources.yandex_export): credits from x_extensions into x_credits,
a provisional InvoiceId, a SkuPriceId, and the 1.3 provider names. Set-based; the old Yandex
mapping is recognised by its x_credit extension, which nothing else writes."""

from django.db import migrations, models

CREDIT_KEYS = (
    ("total", "x_credit"),
    ("monetary_grant", "x_monetary_grant_credit"),
    ("volume_incentive", "x_volume_incentive_credit"),
    ("cud", "x_cud_credit"),
    ("misc", "x_misc_credit"),
)
_ANY_CREDIT = " OR ".join(
    f"coalesce((x_extensions->>'{old}')::numeric, 0) <> 0" for _, old in CREDIT_KEYS
)
_CREDITS = ", ".join(f"'{new}', x_extensions->'{old}'" for new, old in CREDIT_KEYS)
_OLD_KEYS = ", ".join(f"'{old}'" for _, old in CREDIT_KEYS)
# The unit price is only part of the SkuPriceId when cost / quantity is exact (as on import).
_PRICE = "(list_cost / pricing_quantity)"
YANDEX_ROWS_TO_CURRENT_MAPPING = f"""
UPDATE providers_costlineitem SET
    x_credits = CASE WHEN {_ANY_CREDIT} THEN jsonb_strip_nulls(jsonb_build_object({_CREDITS})) END,
    x_extensions = nullif(x_extensions - ARRAY[{_OLD_KEYS}], '{{}}'::jsonb),
    invoice_id = coalesce(invoice_id, billing_account_id || '/'
        || to_char(billing_period_start AT TIME ZONE 'Europe/Moscow', 'YYYY-MM')),
    sku_price_id = coalesce(sku_price_id, CASE
        WHEN pricing_quantity <> 0 AND {_PRICE} * pricing_quantity = list_cost
        THEN sku_id || ':' || billing_currency || ':' || trim_scale({_PRICE})::text
        ELSE sku_id END),
    service_provider_name = coalesce(service_provider_name, provider_name),
    host_provider_name = coalesce(host_provider_name, provider_name)
 WHERE x_extensions ? 'x_credit'
"""


class Migration(migrations.Migration):

    dependencies = [
        ('providers', '0006_costlineitem_tenant_period_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='costlineitem',
            name='allocated_method_details',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='costlineitem',
            name='allocated_method_id',
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='costlineitem',
            name='allocated_resource_id',
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='costlineitem',
            name='allocated_resource_name',
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='costlineitem',
            name='allocated_tags',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='costlineitem',
            name='contract_applied',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='costlineitem',
            name='host_provider_name',
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='costlineitem',
            name='service_provider_name',
            field=models.TextField(blank=True, null=True),
        ),
        # Forward only: reversing the columns is enough, the moved values stay where they are.
        migrations.RunSQL(YANDEX_ROWS_TO_CURRENT_MAPPING, migrations.RunSQL.noop),
    ]
