"""API latency and query counts for an MSP operator: /api/v1/tenants/ and /api/v1/audit-events/.

Seeds N tenants (default 1,000) with users and memberships, 100k audit events, and an operator
assigned to 50 tenants; then measures p50/p95 latency and queries per request through the whole
Django stack (middleware, auth, throttling, scoping, serialisation). Query counts are measured at
two tenant counts and two page sizes to show they depend on neither.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.audit import GENESIS_HASH, _row_fields, compute_hash
from core.benchmarks import cpu_clock, summary, timed
from core.capabilities import Role, capabilities_for
from core.models import AuditEvent, Membership, Tenant, TenantUserObjectPermission

TARGET_P95_MS = 50.0
ENDPOINTS = ("/api/v1/tenants/", "/api/v1/audit-events/")


def add_arguments(parser):
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--assigned", type=int, default=50, help="Tenants the operator is on")
    parser.add_argument("--requests", type=int, default=200, help="Timed requests per endpoint")


def run(report, *, tenants: int, events: int, assigned: int, requests: int, **_):
    rng = random.Random(42)  # noqa: S311 (deterministic test data, not security)
    msp = Tenant.objects.create(name="Bench MSP", slug="bench-msp", kind=Tenant.Kind.MSP)
    operator = get_user_model().objects.create(username="bench-operator", is_staff=True)

    started = time.perf_counter()
    first_batch = min(100, tenants)
    clients = _seed_tenants(msp, first_batch, offset=0)
    _assign(operator, clients[: min(assigned, len(clients))])
    _seed_events(clients, events // 10, rng)
    report(f"  seeded {first_batch} tenants in {time.perf_counter() - started:.1f}s")
    client = Client(SERVER_NAME="localhost")
    client.force_login(operator)
    small = {path: _queries(client, path) for path in ENDPOINTS}

    started = time.perf_counter()
    clients += _seed_tenants(msp, tenants - first_batch, offset=first_batch)
    _seed_events(clients, events - events // 10, rng)
    report(
        f"  seeded {tenants} tenants, {Membership.objects.count()} memberships, "
        f"{AuditEvent.objects.count()} audit events in {time.perf_counter() - started:.1f}s"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    results = {}
    for path in ENDPOINTS:
        large = _queries(client, path)
        large_page = _queries(client, path, page_size=200)
        for _ in range(20):  # warm caches and connections
            client.get(path)
        with cpu_clock() as cpu:
            samples = timed(lambda p=path: _ok(client.get(p)), requests)
        stats = summary(samples)
        cpu_ms = {
            "python_cpu_ms_per_request": round(cpu["python_cpu_s"] * 1000 / requests, 2),
            "db_cpu_ms_per_request": None
            if cpu["db_cpu_s"] is None
            else round(cpu["db_cpu_s"] * 1000 / requests, 2),
        }
        results[path] = {**stats, **cpu_ms, "queries": large, "queries_page_200": large_page}
        report(
            f"  GET {path}: p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms, "
            f"p99 {stats['p99_ms']} ms; queries {large} "
            f"(page 200: {large_page}; at {first_batch} tenants: {small[path]}); CPU per "
            f"request: Python {cpu_ms['python_cpu_ms_per_request']} ms, PostgreSQL "
            f"{cpu_ms['db_cpu_ms_per_request']} ms"
        )

    worst = max(r["p95_ms"] for r in results.values())
    queries = {path: r["queries"] for path, r in results.items()}
    constant = all(
        r["queries"] == r["queries_page_200"] == small[path] for path, r in results.items()
    )
    visible = Tenant.objects.for_user(operator, "view").count()
    report(
        f"  operator sees {visible} tenants; worst p95 {worst} ms (target < {TARGET_P95_MS}); "
        f"query count constant across page size and tenant count: {constant}"
    )
    return {
        "tenants": tenants,
        "audit_events": AuditEvent.objects.count(),
        "operator_tenants": visible,
        "p95_ms": worst,
        "p95_target_ms": TARGET_P95_MS,
        "ratio_to_target": round(worst / TARGET_P95_MS, 3),
        "cpu_ms_per_request": max(
            r["python_cpu_ms_per_request"] + (r["db_cpu_ms_per_request"] or 0)
            for r in results.values()
        ),
        "queries": max(queries.values()),
        "queries_by_endpoint": queries,
        "queries_constant": constant,
        "endpoints": results,
    }


def _ok(response):
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.content[:200]!r}")
    return response


def _queries(client, path, page_size=50) -> int:
    with CaptureQueriesContext(connection) as ctx:
        _ok(client.get(path, {"page_size": page_size}))
    return len(ctx.captured_queries)


def _seed_tenants(msp: Tenant, count: int, *, offset: int) -> list[Tenant]:
    User = get_user_model()
    created = Tenant.objects.bulk_create(
        Tenant(name=f"Client {offset + i:05d}", slug=f"client-{offset + i:05d}", parent=msp)
        for i in range(count)
    )
    for tenant in created:
        tenant.lineage = [*msp.lineage, tenant.pk]
    Tenant.objects.bulk_update(created, ["lineage"], batch_size=2000)
    users = User.objects.bulk_create(
        User(username=f"u{offset + i:05d}-{role}", password="!")  # noqa: S106 (unusable)
        for i in range(count)
        for role in (Role.OWNER, Role.ENGINEER, Role.VIEWER)
    )
    roles = (Role.OWNER, Role.ENGINEER, Role.VIEWER)
    _grant(
        [(users[3 * i + j], tenant, roles[j]) for i, tenant in enumerate(created) for j in range(3)]
    )
    return created


def _assign(user, tenants: list[Tenant]) -> None:
    _grant([(user, tenant, Role.OPERATOR) for tenant in tenants])


def _grant(triples) -> None:
    content_type = ContentType.objects.get_for_model(Tenant)
    permissions = {p.codename: p for p in Permission.objects.filter(content_type=content_type)}
    Membership.objects.bulk_create(
        Membership(tenant=tenant, user=user, role=role) for user, tenant, role in triples
    )
    TenantUserObjectPermission.objects.bulk_create(
        (
            TenantUserObjectPermission(
                user=user, content_object=tenant, permission=permissions[codename]
            )
            for user, tenant, role in triples
            for codename in capabilities_for(role)
        ),
        batch_size=5000,
    )


def _seed_events(tenants: list[Tenant], count: int, rng: random.Random) -> None:
    """Valid hash chains, written in bulk (the append-only trigger allows INSERT)."""
    heads = {
        row["tenant_id"]: (row["seq"], row["hash"])
        for row in AuditEvent.objects.order_by("tenant_id", "-seq")
        .distinct("tenant_id")
        .values("tenant_id", "seq", "hash")
    }
    now = timezone.now()
    batch = []
    for i in range(count):
        tenant = tenants[rng.randrange(len(tenants))]
        seq, prev = heads.get(tenant.pk, (0, GENESIS_HASH))
        event = AuditEvent(
            tenant_id=tenant.pk,
            seq=seq + 1,
            created_at=(now - dt.timedelta(seconds=count - i)).astimezone(dt.UTC),
            actor_repr="bench",
            source=AuditEvent.Source.SYSTEM,
            event_type=rng.choice(("tenant.updated", "membership.created", "sync.completed")),
            target_type="core.tenant",
            target_id=str(tenant.pk),
            target_repr=tenant.name,
            after={"counter": i},
            changed_fields=[],
            extra={},
            prev_hash=prev,
        )
        event.hash = compute_hash(_row_fields(event))
        heads[tenant.pk] = (event.seq, event.hash)
        batch.append(event)
        if len(batch) >= 5000:
            AuditEvent.objects.bulk_create(batch)
            batch.clear()
    AuditEvent.objects.bulk_create(batch)
