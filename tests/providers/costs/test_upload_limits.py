"""Bombs through every path that takes cost files: the API (multipart, base64, at once, queued),
the admin, the portal, bucket pulls (FOCUS files and Yandex Cloud exports), and the caps on
request bodies. Each is refused early with its reason (a 400, a form error or a failed
ImportRun), within a few megabytes of memory, and no data already loaded is lost."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from providers.adapters.yandex.simulator_storage import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_KEY
from providers.costs.sources.s3 import ObjectTooLarge, S3Client
from providers.models import CostLineItem, CostSource, ImportRun
from providers.services.cost_source_pulls import cost_source_pull
from providers.services.cost_sources import cost_source_create
from providers.services.uploads import cost_upload_execute
from providers.tasks import cost_file_import_task
from tests.bombs import MIB, gzip_of_repeated_rows, gzip_one_line, memory_use
from tests.providers.costs.test_query import (
    JAN,
    focus_bytes,
    focus_row,
    load,
    yandex_vat,  # noqa: F401  (autouse fixture)
)

RUNS = "/api/v1/import-runs/"
BUDGET = 32 * MIB  # a request or an import refusing a bomb; the bombs inflate to 96-128 MiB
KEYS = {"access_key_id": DEFAULT_ACCESS_KEY_ID, "secret_access_key": DEFAULT_SECRET_KEY}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def queued(monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(
        cost_file_import_task, "apply_async", lambda kwargs, **kw: calls.append(kwargs)
    )
    return calls


def _header() -> bytes:
    return focus_bytes([focus_row(JAN, "Compute Cloud", "3")]).splitlines(keepends=True)[0]


@pytest.fixture(scope="module")
def line_bomb() -> bytes:
    """~130 KB of gzip: one 128 MiB line where the header should be."""
    return gzip_one_line(b"", 128 * MIB)


@pytest.fixture(scope="module")
def row_bomb() -> bytes:
    """A good FOCUS header, then one 96 MiB row: passes the header check, fails the import."""
    return gzip_one_line(_header(), 96 * MIB)


@pytest.fixture(scope="module")
def ratio_bomb() -> bytes:
    """A good header, then 256 MiB of 64 KiB lines of spaces: ~1000:1."""
    return gzip_of_repeated_rows(_header(), b" " * 65535 + b"\n", 256 * MIB)


def _stored(media) -> list:
    return [p for p in (media / "imports").rglob("*") if p.is_file()]


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/gzip")


# --- API ------------------------------------------------------------------------------------
def test_api_multipart_line_bomb_is_a_400_read_within_the_line_limit(
    world, api_as, queued, media, line_bomb
):
    client = api_as(world.operator_a)

    with memory_use() as used:
        response = client.post(
            RUNS, {"tenant": world.a.pk, "file": _upload("b.csv.gz", line_bomb)}, "multipart"
        )

    assert response.status_code == 400, response.content
    [message] = response.json()["file"]
    assert "Line 1 is too long" in message and "COST_FILE_MAX_LINE_KB" in message
    assert not ImportRun.objects.exists() and not queued and not _stored(media)
    assert used.worst < BUDGET, used


def test_api_base64_line_bomb_is_a_400_naming_the_content(world, api_as, queued, line_bomb):
    content = base64.b64encode(line_bomb).decode()

    with memory_use() as used:
        response = api_as(world.operator_a).post(
            RUNS, {"tenant": world.a.pk, "content": content}, format="json"
        )

    assert response.status_code == 400, response.content
    assert "Line 1 is too long" in response.json()["content"][0]
    assert not ImportRun.objects.exists() and not queued
    assert used.worst < BUDGET, used


def test_api_import_at_once_of_a_row_bomb_fails_the_run_and_keeps_the_data(world, api_as, row_bomb):
    load(world.a, [focus_row(JAN, "Compute Cloud", "3")], source="aws-cur")
    before = list(CostLineItem.objects.values_list("id", flat=True))

    with memory_use() as used:
        response = api_as(world.operator_a).post(
            f"{RUNS}?wait=true",
            {"tenant": world.a.pk, "file": _upload("r.csv.gz", row_bomb), "source_key": "aws-cur"},
            "multipart",
        )

    assert response.status_code == 400, response.content
    assert "Line 2 is too long" in response.json()["detail"]
    run = ImportRun.objects.get(pk=response.json()["import_run"]["id"])
    assert run.status == ImportRun.Status.FAILED and "COST_FILE_MAX_LINE_KB" in run.error
    assert list(CostLineItem.objects.values_list("id", flat=True)) == before
    assert used.worst < BUDGET, used


def test_a_queued_ratio_bomb_fails_its_run_in_the_worker_and_keeps_the_data(
    world, api_as, queued, media, ratio_bomb, django_capture_on_commit_callbacks
):
    load(world.a, [focus_row(JAN, "Compute Cloud", "3")], source="aws-cur")
    before = list(CostLineItem.objects.values_list("id", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(world.operator_a).post(
            RUNS,
            {"tenant": world.a.pk, "file": _upload("x.gz", ratio_bomb), "source_key": "aws-cur"},
            "multipart",
        )
    assert response.status_code == 202, response.content  # its header is fine

    with memory_use() as used:
        run = cost_upload_execute(**queued[0])

    assert run.status == ImportRun.Status.FAILED
    assert "decompression bomb" in run.error and "COST_FILE_MAX_RATIO" in run.error
    assert list(CostLineItem.objects.values_list("id", flat=True)) == before
    assert not _stored(media)
    assert used.worst < BUDGET, used


def test_a_file_over_the_size_limit_is_refused_by_the_upload_check(world, api_as, queued, settings):
    settings.COST_FILE_MAX_MB = 1
    data = focus_bytes([focus_row(JAN, "Compute Cloud", "3")] * 5000)
    assert len(data) > MIB

    response = api_as(world.operator_a).post(
        RUNS, {"tenant": world.a.pk, "file": _upload("big.csv", data)}, "multipart"
    )

    assert response.status_code == 400, response.content
    assert "COST_FILE_MAX_MB" in response.json()["file"][0]
    assert not ImportRun.objects.exists() and not queued


def test_request_bodies_over_the_cap_are_refused_before_they_are_read(
    world, api_as, client, queued, media, settings
):
    settings.REQUEST_BODY_MAX_BYTES = 64 << 10
    data = focus_bytes([focus_row(JAN, "Compute Cloud", "3")] * 400)
    assert len(data) > 64 << 10

    api = api_as(world.operator_a).post(
        RUNS, {"tenant": world.a.pk, "file": _upload("c.csv", data)}, "multipart"
    )
    client.force_login(world.operator_a)
    admin = client.post(
        reverse("admin:providers_importrun_add"),
        {"tenant": world.a.pk, "file": _upload("c.csv", data), "source_key": "s"},
    )
    portal = client.post(reverse("portal:costs_upload"), {"file": _upload("c.csv", data)})

    assert api.status_code == 400 and "COST_FILE_MAX_MB" in api.json()["detail"]
    for page in (admin, portal):
        assert page.status_code == 400
        assert "COST_FILE_MAX_MB" in page.content.decode()
    assert not ImportRun.objects.exists() and not queued and not _stored(media)


def test_a_json_body_over_the_memory_cap_is_a_json_400(world, api_as, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    content = base64.b64encode(focus_bytes([focus_row(JAN, "Compute Cloud", "3")] * 30)).decode()

    response = api_as(world.operator_a).post(
        RUNS, {"tenant": world.a.pk, "content": content}, format="json"
    )

    assert response.status_code == 400
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["detail"]
    assert not ImportRun.objects.exists()


# --- admin and portal -----------------------------------------------------------------------
def test_admin_upload_of_a_line_bomb_is_refused_on_the_form(world, client, queued, line_bomb):
    client.force_login(world.operator_a)

    with memory_use() as used:
        response = client.post(
            reverse("admin:providers_importrun_add"),
            {
                "tenant": world.a.pk,
                "file": _upload("b.csv.gz", line_bomb),
                "source_key": "admin-upload",
                "policy": "reject_file",
            },
        )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["file"]
    assert "Line 1 is too long" in errors[0]
    assert not ImportRun.objects.exists() and not queued
    assert used.worst < BUDGET, used


def test_portal_upload_of_a_line_bomb_shows_why(world, client, queued, line_bomb):
    client.force_login(world.owner_a, backend="django.contrib.auth.backends.ModelBackend")

    with memory_use() as used:
        response = client.post(
            reverse("portal:costs_upload"),
            {"file": _upload("b.csv.gz", line_bomb), "source_key": "x", "policy": "reject_file"},
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 400
    assert "Line 1 is too long" in response.content.decode()
    assert not ImportRun.objects.exists() and not queued
    assert used.worst < BUDGET, used


# --- bucket pulls ---------------------------------------------------------------------------
def _bucket_source(world, sim, kind, bucket, prefix):
    sim.storage.add_bucket(bucket)
    return cost_source_create(
        actor=world.operator_a,
        tenant=world.a,
        kind=kind,
        name=f"{kind} bombs",
        endpoint_url=sim.s3_url,
        bucket=bucket,
        prefix=prefix,
        credentials=KEYS,
        start_pull=False,
    )


def test_a_focus_bucket_with_bombs_imports_the_good_file_and_rejects_the_bombs(
    world, yc_sim, row_bomb, ratio_bomb
):
    source = _bucket_source(world, yc_sim, CostSource.Kind.FOCUS_BUCKET, "focus", "x/")
    when = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    good = focus_bytes([focus_row(JAN, "Compute Cloud", "3")])
    files = [("x/good.csv", good), ("x/row.csv.gz", row_bomb), ("x/ratio.csv.gz", ratio_bomb)]
    for minute, (key, body) in enumerate(files):
        modified = when + dt.timedelta(minutes=minute)
        yc_sim.storage.put_object("focus", key, body, last_modified=modified)

    with memory_use() as used:
        result = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (result.imported, result.rejected, result.status) == (1, 2, "partial")
    assert "x/row.csv.gz: Line 2 is too long" in result.error
    assert "x/ratio.csv.gz: The compressed file inflates more than" in result.error
    assert CostLineItem.objects.filter(tenant=world.a).count() == 1
    assert used.worst < 2 * BUDGET, used  # the simulator serves the bombs from this process


def test_a_bucket_object_over_the_size_limit_is_not_downloaded(world, yc_sim, settings):
    settings.COST_FILE_MAX_MB = 1
    source = _bucket_source(world, yc_sim, CostSource.Kind.FOCUS_BUCKET, "focus", "x/")
    yc_sim.storage.put_object("focus", "x/huge.csv", b"x" * (MIB + 1))

    result = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (result.failed, result.imported) == (1, 0)
    assert "x/huge.csv has 1048577 bytes" in result.error and "COST_FILE_MAX_MB" in result.error
    assert result.api_calls == 1  # the listing only


def test_a_download_growing_past_the_limit_is_cut_off(yc_sim):
    yc_sim.storage.add_bucket("focus")
    yc_sim.storage.put_object("focus", "x/big.csv", b"y" * 5000)
    client = S3Client(
        endpoint_url=yc_sim.s3_url,
        region="ru-central1",
        access_key_id=DEFAULT_ACCESS_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
    )

    with pytest.raises(ObjectTooLarge, match="COST_FILE_MAX_MB"):
        client.download("focus", "x/big.csv", io.BytesIO(), max_bytes=1000)
    assert client.api_calls == 1  # refused, not retried


def test_a_yandex_export_bomb_fails_its_day_and_keeps_the_rest(world, yc_sim, line_bomb):
    source = _bucket_source(
        world, yc_sim, CostSource.Kind.YANDEX_BILLING_EXPORT, "yc-bombs", "billing/"
    )
    yc_sim.storage.put_object("yc-bombs", "billing/20260214.csv.gz", line_bomb)

    with memory_use() as used:
        result = cost_source_pull(actor=world.operator_a, source_id=source.pk)

    assert (result.rejected, result.status) == (1, "partial")
    run = ImportRun.objects.get(pk=result.runs[0])
    assert run.status == ImportRun.Status.FAILED and "Line 1 is too long" in run.error
    assert used.worst < BUDGET, used
