"""Schemathesis over every operation of the OpenAPI schema, in-process, as three kinds of user.

The WSGI application answers on this test's database connection (so it sees the fixtures and
each example is rolled back to a savepoint). Every operation gets positive and negative
examples as a write token of tenant A, a read token of tenant B and an MSP operator, and every
response must pass: no 5xx, a documented status code, a documented content type and a body
that matches the documented schema.

Positive examples are steered so that they reach real objects and succeed: path ids are drawn
from rows of both tenants (the other tenant's must be a 404), tenant and connection references
point at the caller's own, and create calls are sometimes sent a valid payload
(tests/contracts/samples.py), which must be accepted.

Deterministic (derandomized) and sized for CI. For a deeper local run:
``SCHEMATHESIS_MAX_EXAMPLES=100 SCHEMATHESIS_ALL_CHECKS=1 python3 scripts/infrazen.py test
tests/contracts/test_schemathesis.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.auths import AuthStorage
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.capabilities import Role
from core.models import ApiToken
from core.services.tokens import api_token_create
from tests.contracts.samples import CREATE_PAYLOADS, SAMPLES
from tests.factories import member

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ALL_CHECKS = bool(os.environ.get("SCHEMATHESIS_ALL_CHECKS"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
API_ID = re.compile(r"^/api/v1/([a-z-]+)/\{id\}/")
API_LIST = re.compile(r"^/api/v1/([a-z-]+)/$")


@pytest.fixture(scope="module")
def api_schema(django_db_blocker):
    from infrazen.wsgi import application

    with django_db_blocker.unblock():
        return schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def on_this_connection():
    """Django closes "old" connections around each request; here the request must keep using
    the test's own connection and its open transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@dataclass
class Caller:
    name: str
    token: str
    payload_world: object  # a World whose tenant B is the tenant this caller creates in
    own: dict[str, list[int]] = field(default_factory=dict)  # route prefix -> ids it may see
    staff: bool = False
    writes: bool = True

    def auth(self) -> AuthStorage:
        """The token as schemathesis's own auth, so that its auth probes know what to remove."""
        storage = AuthStorage()
        token = self.token

        @storage(refresh_interval=None)
        class Bearer:
            def get(self, case, context):
                return token

            def set(self, case, data, context):
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

        return storage


def _routes():
    from infrazen.api_urls import router

    return {prefix: (viewset, basename) for prefix, viewset, basename in router.registry}


@pytest.fixture
def callers(world):
    """Rows of every routed model in tenants A and B, and the three callers."""
    ids: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for prefix, (viewset, _basename) in _routes().items():
        label = viewset.queryset.model._meta.label_lower
        for tenant in (world.a, world.b):
            row = SAMPLES[label](world, tenant)
            ids[prefix][tenant.slug].append(row.pk)
    operator = member(world.msp, Role.OPERATOR, username="msp-operator")

    def token(user, tenant, scope):
        return api_token_create(actor=user, tenant=tenant, name=f"fuzz {scope}", scope=scope).raw

    def seen(*slugs):
        return {prefix: [i for s in slugs for i in by[s]] for prefix, by in ids.items()}

    everything = {
        prefix: [i for values in by.values() for i in values] for prefix, by in ids.items()
    }
    return {
        "write token of A": Caller(
            "write token of A",
            token(world.owner_a, world.a, ApiToken.Scope.WRITE),
            dataclasses.replace(world, b=world.a),
            seen("alpha"),
        ),
        "read token of B": Caller(
            "read token of B",
            token(world.owner_b, world.b, ApiToken.Scope.READ),
            world,
            seen("beta"),
            writes=False,
        ),
        "operator": Caller(
            "operator",
            token(operator, world.msp, ApiToken.Scope.WRITE),
            world,
            seen("alpha", "beta"),
            staff=True,
        ),
    }, everything


def _steer(case, caller: Caller, everything, choice: int) -> None:
    """Point a positive example at real rows (own or foreign) and the caller's own tenant."""
    match = API_ID.match(case.operation.path)
    prefix = match.group(1) if match else "connections"  # the webhook's id is a connection
    if "id" in (case.path_parameters or {}):
        pool = caller.own.get(prefix, []) if choice % 2 else everything.get(prefix, [])
        if pool:
            case.path_parameters["id"] = pool[choice % len(pool)]
    if isinstance(case.body, dict) and choice == 1:
        own = caller.payload_world.b
        for name, value in (("tenant", own.pk), ("parent", own.pk)):
            if name in case.body:
                case.body[name] = value
    creates = case.method.upper() == "POST" and API_LIST.match(case.operation.path)
    json_accepted = "application/json" in (
        case.operation.definition.raw.get("requestBody") or {}
    ).get("content", {})
    if creates and choice >= 2 and json_accepted:
        basename = _routes()[API_LIST.match(case.operation.path).group(1)][1]
        payload = CREATE_PAYLOADS.get(basename)
        if payload is not None:
            case.body = payload(caller.payload_world)
            case.media_type = "application/json"
            if not caller.staff:  # endpoint overrides are for MSP operators only
                case.body.pop("endpoints", None)


def _explore(operation, mode, caller, everything, failures, statuses, checks) -> None:
    turns = itertools.count()
    strategy = operation.as_strategy(generation_mode=mode, auth_storage=caller.auth())

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exercise(case):
        if mode is GenerationMode.POSITIVE:
            # In turn: as generated, own/foreign rows and references, a valid create payload.
            _steer(case, caller, everything, next(turns) % 4)
        with transaction.atomic():
            try:
                response = case.call()
                statuses[operation.label][response.status_code] += 1
                case.validate_response(response, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # report all, not just the first
                found = failures[operation.label]
                if len(found) < 3:
                    found.append(
                        f"{mode.value}: {str(exc).strip()[:600]}\n    "
                        f"{case.as_curl_command()[:400]}"
                    )
            finally:
                transaction.set_rollback(True)

    exercise()


@pytest.mark.parametrize("who", ["write token of A", "read token of B", "operator"])
def test_every_operation_conforms_to_the_schema(api_schema, callers, who, on_this_connection):
    by_name, everything = callers
    caller = by_name[who]
    failures: dict[str, list[str]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    checks = None if ALL_CHECKS else CHECKS

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:
        for mode in MODES:
            _explore(operation, mode, caller, everything, failures, statuses, checks)

    report = "\n".join(
        f"{label} as {who}:\n  " + "\n  ".join(found) for label, found in failures.items()
    )
    assert not failures, report
    # The fixtures let reads reach real rows and creates succeed, or all this proves little;
    # a read token's creates are all refused.
    assert statuses["GET /api/v1/connections/{id}/"][200], statuses["GET /api/v1/connections/{id}/"]
    creates = [f"POST /api/v1/{prefix}/" for prefix in ("tokens", "connections", "cost-sources")]
    for label in creates:
        accepted = statuses[label][201] + statuses[label][202]
        assert bool(accepted) is caller.writes, (label, dict(statuses[label]))
    requests = sum(sum(counts.values()) for counts in statuses.values())
    print(f"schemathesis as {who}: {requests} requests over {len(operations)} operations")
