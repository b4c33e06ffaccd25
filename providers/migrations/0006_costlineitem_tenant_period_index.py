"""Line items in (tenant, ChargePeriodStart, id) order: the API's cursor pages and the FOCUS
export read a tenant's month in this order, so each page is an index range, not a sort of the
month. (On a partitioned table the index is created on every partition, present and future.)"""

from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS costlineitem_tenant_period
    ON providers_costlineitem (tenant_id, charge_period_start, id);
"""
DROP = "DROP INDEX IF EXISTS costlineitem_tenant_period;"


class Migration(migrations.Migration):
    dependencies = [("providers", "0005_cost_sources")]

    operations = [migrations.RunSQL(CREATE, DROP)]
