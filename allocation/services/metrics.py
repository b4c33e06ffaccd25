"""Business metrics and their points: definitions, bulk upserts (API), CSV uploads and pulls
from an HTTP JSON endpoint.

Every way in validates the whole batch first and reports each bad point with its position (API
index, CSV line) and reason. A batch with a bad point stores nothing, unless the caller chose
``skip_rows`` (CSV) — then the good points are stored and the bad ones are reported. One audit
event per batch, with counts (not one per point).

A pull URL makes the server send requests where the tenant says, an SSRF surface: customers may
name public HTTPS hosts only (resolved to global addresses, checked again at every pull since DNS
answers change); anything else (intranet services, plain HTTP, the tests' local server) is for MSP
operators, as with cost sources' endpoints (``providers.costs.sources.endpoints``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _

from allocation.models import DIMENSION_MODELS, BusinessMetric, BusinessMetricValue
from allocation.services.common import require_manage
from core.audit import record_event, snapshot

FIELDS = (
    "name",
    "unit",
    "description",
    "dimension",
    "pull_url",
    "pull_path",
    "pull_interval",
    "enabled",
)
MIN_PULL_INTERVAL = 300
MAX_POINTS = 50_000  # per batch: a year of daily values for ~130 dimension values
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_VALUE = Decimal("1e17")
PLACES = Decimal("0.000001")
REJECT_FILE, SKIP_ROWS = "reject_file", "skip_rows"
POLICIES = (REJECT_FILE, SKIP_ROWS)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_REPORTED = 100  # bad points named in an error (the count says how many there were)


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"line": n, "reason": "..."}

    @property
    def stored(self) -> int:
        return self.created + self.updated

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "stored": self.stored,
            "rejected": self.rejected,
        }


# --- URL safety ------------------------------------------------------------------------------
def _global_host(host: str) -> bool:
    """Whether every address ``host`` resolves to is a global (public) one."""
    try:
        infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(address.split("%")[0]).is_global for address in addresses
    )


def pull_url_errors(url: str, actor) -> list[str]:
    """Why ``actor`` may not make the server pull ``url`` (empty: it may)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [_("Give an http(s) URL.")]
    if parts.fragment or parts.username or parts.password:
        return [_("The URL may not carry a fragment or user name.")]
    if actor is not None and not actor.is_staff and not is_public_url(url):
        return [
            _(
                "Only MSP operators can use this URL; customers may pull from public HTTPS "
                "hosts only."
            )
        ]
    return []


def is_public_url(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or parts.port not in (None, 443) or not host:
        return False
    try:
        ipaddress.ip_address(host)
        return False  # a literal address: customers name hosts
    except ValueError:
        pass
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return False
    return _global_host(host)


# --- definitions -----------------------------------------------------------------------------
def _snapshot(metric: BusinessMetric) -> dict:
    return snapshot(metric, FIELDS)


def _check(metric: BusinessMetric, actor, *, url_changed: bool) -> None:
    errors = {}
    if metric.pull_interval is not None and metric.pull_interval < MIN_PULL_INTERVAL:
        errors["pull_interval"] = [
            _("Pull at most every %(n)d seconds.") % {"n": MIN_PULL_INTERVAL}
        ]
    if metric.pull_url and url_changed:
        url_errors = pull_url_errors(metric.pull_url, actor)
        if url_errors:
            errors["pull_url"] = url_errors
    if errors:
        raise ValidationError(errors)
    if url_changed:
        # Pulls of a URL an operator chose are not re-vetted; a customer's URL is, each time.
        metric.pull_url_trusted = actor is None or actor.is_staff


@transaction.atomic
def business_metric_create(
    *,
    actor,
    tenant,
    name: str,
    unit: str,
    description: str = "",
    dimension: str = "",
    pull_url: str = "",
    pull_path: str = "",
    pull_interval: int = 86400,
    enabled: bool = True,
) -> BusinessMetric:
    require_manage(actor, tenant)
    metric = BusinessMetric(
        tenant=tenant,
        name=name.strip(),
        unit=unit.strip(),
        description=description,
        dimension=dimension or "",
        pull_url=pull_url or "",
        pull_path=pull_path or "",
        pull_interval=pull_interval,
        enabled=enabled,
    )
    metric.full_clean()
    _check(metric, actor, url_changed=bool(metric.pull_url))
    metric.save()
    record_event(
        event_type="allocation.business_metric_created",
        actor=actor,
        tenant=tenant,
        target=metric,
        after=_snapshot(metric),
    )
    if metric.pull_url and metric.enabled:
        from allocation.tasks import business_metric_pull_task

        transaction.on_commit(lambda: business_metric_pull_task.delay(metric.pk))
    return metric


@transaction.atomic
def business_metric_update(*, actor, metric: BusinessMetric, **changes) -> BusinessMetric:
    """Change the definition. The dimension cannot change once points exist (they name values
    of the old one)."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})
    tenant = metric.tenant
    require_manage(actor, tenant)
    metric = BusinessMetric.objects.select_for_update().get(pk=metric.pk)
    before = _snapshot(metric)
    for name, value in changes.items():
        setattr(metric, name, value.strip() if name in ("name", "unit") else value)
    if metric.dimension != before["dimension"] and metric.values.exists():
        raise ValidationError(
            {"dimension": [_("Points exist for the current dimension; delete them first.")]}
        )
    metric.full_clean()
    _check(
        metric, actor, url_changed=metric.pull_url != before["pull_url"] and bool(metric.pull_url)
    )
    metric.save()
    record_event(
        event_type="allocation.business_metric_updated",
        actor=actor,
        tenant=tenant,
        target=metric,
        before=before,
        after=_snapshot(metric),
    )
    return metric


@transaction.atomic
def business_metric_delete(*, actor, metric: BusinessMetric) -> None:
    """Deletes the metric and its points (counted in the event)."""
    require_manage(actor, metric.tenant)
    points = metric.values.count()
    record_event(
        event_type="allocation.business_metric_deleted",
        actor=actor,
        tenant=metric.tenant,
        target=metric,
        before=_snapshot(metric),
        extra={"points": points},
    )
    metric.delete()


# --- points ----------------------------------------------------------------------------------
def _parse_point(metric: BusinessMetric, raw, known_ids: set[int] | None) -> tuple:
    """(day, dimension_value_id, value) or raise ValueError with the reason."""
    if not isinstance(raw, dict):
        raise ValueError(_("a point is an object with date and value"))
    day_text = raw.get("date")
    if not isinstance(day_text, str) or not _DATE.fullmatch(day_text):
        raise ValueError(_("date must be YYYY-MM-DD"))
    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        raise ValueError(_("date %(date)s does not exist") % {"date": day_text}) from None
    value_raw = raw.get("value")
    if isinstance(value_raw, bool) or not isinstance(value_raw, str | int | float | Decimal):
        raise ValueError(_("value must be a number"))
    try:
        value = Decimal(str(value_raw).strip())
    except InvalidOperation:
        raise ValueError(_("value must be a number")) from None
    if not value.is_finite() or value < 0 or value >= MAX_VALUE:
        raise ValueError(_("value must be a number from 0 below 1e17"))
    if value != value.quantize(PLACES):
        raise ValueError(_("value has more than 6 decimal places"))
    dim_raw = raw.get("dimension_value")
    if not metric.dimension:
        if dim_raw not in (None, ""):
            raise ValueError(_("this metric has no dimension; leave dimension_value empty"))
        return day, None, value
    if dim_raw in (None, ""):
        raise ValueError(
            _("dimension_value is required (an id of a %(dimension)s)")
            % {"dimension": metric.get_dimension_display()}
        )
    text = str(dim_raw).strip()
    if isinstance(dim_raw, bool) or not re.fullmatch(r"[0-9]{1,18}", text):
        raise ValueError(_("dimension_value must be an id"))
    dim_id = int(text)
    if known_ids is not None and dim_id not in known_ids:
        raise ValueError(
            _("no %(dimension)s with id %(id)s in this tenant")
            % {"dimension": metric.get_dimension_display(), "id": dim_id}
        )
    return day, dim_id, value


def _dimension_ids(metric: BusinessMetric) -> set[int] | None:
    if not metric.dimension:
        return None
    model = DIMENSION_MODELS[metric.dimension]
    return set(model.objects.filter(tenant_id=metric.tenant_id).values_list("pk", flat=True))


def _validate(metric, points: list, *, first_line: int = 0) -> tuple[dict, list[dict]]:
    """Parsed points keyed by (day, dimension value) — a later duplicate wins, as a re-sent value
    would — and the rejected ones ({"line", "reason"})."""
    known = _dimension_ids(metric)
    parsed, rejected = {}, []
    for index, raw in enumerate(points):
        line = first_line + index
        try:
            day, dim_id, value = _parse_point(metric, raw, known)
        except ValueError as exc:
            rejected.append({"line": line, "reason": str(exc)})
            continue
        parsed[(day, dim_id)] = value
    return parsed, rejected


def _store(metric: BusinessMetric, parsed: dict) -> tuple[int, int]:
    if not parsed:
        return 0, 0
    days = {day for day, _dim in parsed}
    existing = set(
        BusinessMetricValue.objects.filter(metric=metric, day__in=days).values_list(
            "day", "dimension_value_id"
        )
    )
    rows = [
        BusinessMetricValue(
            tenant_id=metric.tenant_id,
            metric=metric,
            day=day,
            dimension_value_id=dim_id,
            value=value,
            updated_at=timezone.now(),
        )
        for (day, dim_id), value in sorted(parsed.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    ]
    BusinessMetricValue.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["tenant", "metric", "day", "dimension_value_id"],
        update_fields=["value", "updated_at"],
    )
    updated = len(set(parsed) & existing)
    return len(parsed) - updated, updated


def _too_many(points) -> None:
    if len(points) > MAX_POINTS:
        raise ValidationError(
            {"points": [_("At most %(n)d points per batch.") % {"n": MAX_POINTS}]}
        )


def _reject(field_name: str, rejected: list[dict], what: str) -> ValidationError:
    shown = [
        _("%(what)s %(line)d: %(reason)s")
        % {"what": what, "line": r["line"], "reason": r["reason"]}
        for r in rejected[:MAX_REPORTED]
    ]
    if len(rejected) > MAX_REPORTED:
        shown.append(_("… and %(n)d more.") % {"n": len(rejected) - MAX_REPORTED})
    return ValidationError({field_name: shown})


@transaction.atomic
def business_metric_points_upsert(*, actor, metric: BusinessMetric, points: list) -> BatchResult:
    """Insert or replace points ({"date", "value", "dimension_value"}); all or nothing: a bad
    point is reported as ``points`` error "point N: reason" (N counted from 0)."""
    require_manage(actor, metric.tenant)
    if not isinstance(points, list):
        raise ValidationError({"points": [_("Give a list of points.")]})
    _too_many(points)
    metric = BusinessMetric.objects.select_for_update().get(pk=metric.pk)
    parsed, rejected = _validate(metric, points)
    if rejected:
        raise _reject("points", rejected, _("point"))
    created, updated = _store(metric, parsed)
    result = BatchResult(created=created, updated=updated)
    record_event(
        event_type="allocation.business_metric_points_upserted",
        actor=actor,
        tenant=metric.tenant,
        target=metric,
        extra={"created": created, "updated": updated, "via": "api"},
    )
    return result


def _csv_points(content: bytes) -> tuple[list, int, list[dict]]:
    """Points from a CSV with a header (date,value[,dimension_value]); the first data line is
    line 2. Returns (points, first line, header problems)."""
    if len(content) > MAX_CSV_BYTES:
        raise ValidationError(
            {"file": [_("The file is larger than %(n)d MB.") % {"n": MAX_CSV_BYTES // 2**20}]}
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": [_("The file is not UTF-8 text.")]}) from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ValidationError({"file": [_("The file is empty.")]}) from None
    except csv.Error as exc:
        raise ValidationError({"file": [_("Line 1: %(e)s") % {"e": exc}]}) from None
    missing = [name for name in ("date", "value") if name not in header]
    if missing:
        raise ValidationError(
            {
                "file": [
                    _("Line 1: the header needs the columns date, value (missing: %(m)s).")
                    % {"m": ", ".join(missing)}
                ]
            }
        )
    points = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                points.append(None)  # blank line: skipped, keeps line numbers right
                continue
            if len(row) != len(header):
                points.append({"__error__": _("expected %(n)d columns") % {"n": len(header)}})
                continue
            points.append(dict(zip(header, (cell.strip() for cell in row), strict=True)))
    except csv.Error as exc:
        raise ValidationError(
            {"file": [_("Line %(n)d: %(e)s") % {"n": reader.line_num, "e": exc}]}
        ) from None
    return points, 2, []


@transaction.atomic
def business_metric_csv_import(
    *, actor, metric: BusinessMetric, content: bytes, policy: str = REJECT_FILE
) -> BatchResult:
    """A CSV upload (header date,value[,dimension_value]). ``reject_file``: any bad line stores
    nothing (the error names every bad line); ``skip_rows``: good lines are stored, bad ones
    are returned in ``rejected``."""
    require_manage(actor, metric.tenant)
    if policy not in POLICIES:
        raise ValidationError({"policy": [_("Choose reject_file or skip_rows.")]})
    points, first_line, _problems = _csv_points(content)
    _too_many(points)
    metric = BusinessMetric.objects.select_for_update().get(pk=metric.pk)
    known = _dimension_ids(metric)
    parsed, rejected = {}, []
    for index, raw in enumerate(points):
        line = first_line + index
        if raw is None:
            continue
        if "__error__" in raw:
            rejected.append({"line": line, "reason": raw["__error__"]})
            continue
        try:
            day, dim_id, value = _parse_point(metric, raw, known)
        except ValueError as exc:
            rejected.append({"line": line, "reason": str(exc)})
            continue
        parsed[(day, dim_id)] = value
    if rejected and policy == REJECT_FILE:
        raise _reject("file", rejected, _("Line"))
    if not parsed and not rejected:
        raise ValidationError({"file": [_("The file has no data lines.")]})
    created, updated = _store(metric, parsed)
    result = BatchResult(created=created, updated=updated, rejected=rejected)
    record_event(
        event_type="allocation.business_metric_points_upserted",
        actor=actor,
        tenant=metric.tenant,
        target=metric,
        extra={
            "created": created,
            "updated": updated,
            "rejected": len(rejected),
            "via": "csv",
            "policy": policy,
        },
    )
    return result


# --- pulls -----------------------------------------------------------------------------------
class PullError(Exception):
    pass


def _fetch(metric: BusinessMetric) -> list:
    import requests

    from providers.adapters.base import ProviderError
    from providers.adapters.http import HttpClient

    if not metric.pull_url_trusted and not is_public_url(metric.pull_url):
        raise PullError(_("The URL no longer resolves to a public address; pull refused."))
    session = requests.Session()
    session.max_redirects = 0  # a redirect could lead anywhere, past the check above
    client = HttpClient(provider="metric endpoint", session=session, max_attempts=3)
    try:
        body = client.request_json("GET", metric.pull_url)
    except ProviderError as exc:
        raise PullError(str(exc)) from None
    except (requests.RequestException, ValueError) as exc:
        raise PullError(_("The endpoint failed: %(e)s") % {"e": type(exc).__name__}) from None
    for part in [p for p in metric.pull_path.split(".") if p]:
        if not isinstance(body, dict) or part not in body:
            raise PullError(_("The answer has no “%(path)s”.") % {"path": metric.pull_path})
        body = body[part]
    if not isinstance(body, list):
        raise PullError(_("The answer (at the points path) is not a list of points."))
    if len(body) > MAX_POINTS:
        raise PullError(_("The answer has more than %(n)d points.") % {"n": MAX_POINTS})
    return body


def business_metric_pull(*, actor, metric: BusinessMetric) -> BatchResult:
    """Pull the metric's endpoint now and upsert its points (all or nothing). A failure (HTTP
    error, bad answer, bad point) stores no point and is recorded on the metric and audited;
    it raises ValidationError({"pull_url": ...}) for a caller to show."""
    require_manage(actor, metric.tenant)
    if not metric.pull_url:
        raise ValidationError({"pull_url": [_("This metric has no pull URL.")]})
    try:
        points = _fetch(metric)  # outside the transaction: no lock held during HTTP
        with transaction.atomic():
            locked = BusinessMetric.objects.select_for_update().get(pk=metric.pk)
            parsed, rejected = _validate(locked, points)
            if rejected:
                raise PullError(
                    "; ".join(_("point %(line)d: %(reason)s") % r for r in rejected[:MAX_REPORTED])
                )
            created, updated = _store(locked, parsed)
            BusinessMetric.objects.filter(pk=locked.pk).update(
                last_pull_at=Now(),
                last_pull_status=BusinessMetric.PullStatus.SUCCEEDED,
                last_pull_error="",
                last_pull_points=len(parsed),
            )
            record_event(
                event_type="allocation.business_metric_pulled",
                actor=actor,
                tenant=locked.tenant,
                target=locked,
                extra={"created": created, "updated": updated, "via": "pull"},
            )
        return BatchResult(created=created, updated=updated)
    except PullError as exc:
        message = str(exc)[:2000]
        with transaction.atomic():
            BusinessMetric.objects.filter(pk=metric.pk).update(
                last_pull_at=Now(),
                last_pull_status=BusinessMetric.PullStatus.FAILED,
                last_pull_error=message,
                last_pull_points=0,
            )
            record_event(
                event_type="allocation.business_metric_pull_failed",
                actor=actor,
                tenant=metric.tenant,
                target=metric,
                extra={"error": message},
            )
        raise ValidationError({"pull_url": [message]}) from None


def due_metric_ids(now=None) -> list[int]:
    """Enabled metrics with a pull URL whose interval has passed since the last pull."""
    from django.db.models import DurationField, ExpressionWrapper, F, Q

    now = now or timezone.now()
    interval = ExpressionWrapper(
        F("pull_interval") * dt.timedelta(seconds=1), output_field=DurationField()
    )
    return list(
        BusinessMetric.objects.filter(enabled=True)
        .exclude(pull_url="")
        .annotate(due_at=F("last_pull_at") + interval)
        .filter(Q(last_pull_at__isnull=True) | Q(due_at__lte=now))
        .values_list("pk", flat=True)
    )
