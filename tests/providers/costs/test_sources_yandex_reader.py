"""The Yandex export reader on hand-made files: the mapping cell by cell, warnings and errors."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from decimal import Decimal

from providers.costs.sources.yandex_export import FIELDS, YandexExportReader, day_from_key

HEADER = (
    "billing_account_id,billing_account_name,cloud_id,cloud_name,folder_id,folder_name,"
    "resource_id,service_id,service_name,sku_id,sku_name,date,currency,pricing_quantity,"
    "pricing_unit,cost,credit,monetary_grant_credit,volume_incentive_credit,cud_credit,"
    "misc_credit,label.user_labels.team,label.user_labels.env,created_at,locale,updated_at,"
    "exported_at,surprise"
)
ROW = (
    "dn2acct,acme,b1gcloud,acme-prod,b1gfolder,prod,fhmvm1,dn2svc,Compute Cloud,dn2sku,"
    "Intel Ice Lake. 20% vCPU,2026-03-01,RUB,48,core*hour,21.12,-2.112,-2.112,0,0,0,core,,"
    "x,en,1772323200,2026-03-02T01:00:00Z,?"
)


def _read(*rows, day=dt.date(2026, 3, 1), header=HEADER, compress=False):
    data = ("\ufeff" + "\n".join([header, *rows]) + "\n").encode()
    stream = io.BytesIO(gzip.compress(data) if compress else data)
    reader = YandexExportReader(stream, day=day)
    out = [dict(zip(FIELDS, row, strict=True)) for row in reader.rows()]
    return reader, out


def test_a_row_maps_to_focus_cells():
    reader, [row] = _read(ROW)

    assert reader.header_ok and reader.rows_read == 1 and not reader.errors
    # 1 March MSK: the charge period starts on 28 February UTC; the billing period is March MSK.
    assert row["charge_period_start"] == "2026-02-28T21:00:00Z"
    assert row["charge_period_end"] == "2026-03-01T21:00:00Z"
    assert row["billing_period_start"] == "2026-02-28T21:00:00Z"
    assert row["billing_period_end"] == "2026-03-31T21:00:00Z"
    assert (row["list_cost"], row["contracted_cost"]) == ("21.12", "21.12")
    assert row["billed_cost"] == row["effective_cost"] == "19.008"
    assert Decimal(row["list_unit_price"]) * Decimal(row["pricing_quantity"]) == Decimal("21.12")
    assert (row["pricing_unit"], row["x_pricing_unit"]) == ("Core-Hours", "core*hour")
    assert (row["sub_account_id"], row["sub_account_name"], row["sub_account_type"]) == (
        "b1gfolder",
        "prod",
        "Folder",
    )
    assert json.loads(row["tags"]) == {"team": "core"}  # empty label values are left out
    assert (row["service_category"], row["service_subcategory"]) == ("Compute", "Virtual Machines")
    assert json.loads(row["x_credits"]) == {
        "total": "-2.112",
        "monetary_grant": "-2.112",
        "volume_incentive": "0",
        "cud": "0",
        "misc": "0",
    }
    assert not any(field.endswith("_credit") for field in FIELDS)  # no copies in x_extensions
    # 21.12 / 48 = 0.44 exactly: the SKU's price in RUB names the price; the MSK month the invoice.
    assert (row["sku_id"], row["sku_price_id"]) == ("dn2sku", "dn2sku:RUB:0.44")
    assert row["invoice_id"] == "dn2acct/2026-03"
    assert row["pricing_category"] == "Standard"
    assert row["x_cloud_id"] == "b1gcloud" and row["x_updated_at"] == "1772323200"
    assert reader.warnings.count("unknown_column") == 1  # "surprise"; created_at is just old


def test_committed_discounts_and_odd_values_are_kept_with_warnings():
    committed = ROW.replace(",-2.112,-2.112,0,0,0,", ",-4.224,0,0,-4.224,0,")
    odd = ROW.replace(",RUB,", ",rub,").replace(",-2.112,-2.112,0,0,0,", ",0.5,0,0,0,0,")
    reader, (first, second) = _read(committed, odd)

    assert first["pricing_category"] == "Committed"
    assert second["billing_currency"] == "RUB"
    assert reader.warnings.count("currency_case") == 1
    assert reader.warnings.count("positive_credit") == 1
    assert reader.warnings.count("credit_mismatch") == 1  # 0.5 is not 0 + 0 + 0 + 0
    assert not reader.errors


def test_a_price_the_row_does_not_reveal_falls_back_to_the_sku_and_no_credit_means_null():
    rounded = ROW.replace(",48,core*hour,21.12,-2.112,-2.112,0,0,0,", ",7,core*hour,1,0,0,0,0,0,")
    idle = ROW.replace(",48,core*hour,21.12,-2.112,-2.112,0,0,0,", ",0,core*hour,0,0,,,,,")
    reader, (inexact, zero) = _read(rounded, idle)

    assert not reader.errors
    assert inexact["sku_price_id"] == zero["sku_price_id"] == "dn2sku"  # 1/7 and 0/0
    assert inexact["x_credits"] is None and zero["x_credits"] is None


def test_bad_rows_are_reported_with_line_column_value_and_reason():
    rows = [
        ROW,
        ROW.replace("21.12", '"21,12"', 1),  # a decimal comma
        ROW.replace("2026-03-01", "2026-02-28", 1),  # another day's row
        ROW.replace(",RUB,", ",EUROS,"),
        ROW.replace("b1gfolder,prod", ",prod"),  # no folder
        ",".join(ROW.split(",")[:12]),  # cut short after the date
    ]
    reader, loaded = _read(*rows)

    assert (reader.rows_read, reader.rows_rejected, len(loaded)) == (6, 5, 1)
    found = sorted(
        (e["line"], e["kind"], e["column"], e["value"], e["reason"])
        for entry in reader.errors.as_dict().values()
        for e in entry["examples"]
    )
    assert found == [
        (3, "invalid_decimal", "cost", "21,12", "not a number"),
        (4, "invalid_value", "date", "2026-02-28", "a row of 2026-02-28 in the file of 2026-03-01"),
        (5, "unknown_currency", "currency", "EUROS", "not an ISO 4217 national currency code"),
        (6, "invalid_value", "folder_id", "", "empty; a value is required"),
        (
            7,
            "truncated_row",
            "currency",
            "2026-03-01",
            "12 of 28 fields; the row ends before this column",
        ),
    ]


def test_a_header_without_the_export_columns_is_not_loadable():
    reader, rows = _read("1,2", header="date,cost")

    assert not reader.header_ok and rows == []
    assert reader.errors.count("missing_column") == 11


def test_gzip_files_are_read_and_a_truncated_one_is_flagged():
    reader, rows = _read(ROW, ROW, compress=True)
    assert len(rows) == 2 and not reader.unreadable

    data = gzip.compress(("\n".join([HEADER, *[ROW] * 2000]) + "\n").encode())
    reader = YandexExportReader(io.BytesIO(data[: len(data) // 2]), day=dt.date(2026, 3, 1))
    list(reader.rows())
    assert reader.unreadable


def test_the_day_comes_from_the_file_name():
    assert day_from_key("billing/20260214.csv") == dt.date(2026, 2, 14)
    assert day_from_key("yc-export-20260214.csv.gz") == dt.date(2026, 2, 14)
    assert day_from_key("billing/20261340.csv") is None
    assert day_from_key("billing/readme.txt") is None
