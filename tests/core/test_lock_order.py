"""Mixed services on one tenant from several connections never deadlock.

Regression: ``tenant_update`` locked the tenant row and then waited for the tenant's audit-chain
lock, while ``membership_update`` held the chain lock and waited for the tenant row (the audit
insert's foreign-key share lock): PostgreSQL aborted one of them with "deadlock detected".
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.audit import verify_chains
from core.capabilities import Role
from core.models import Membership, Tenant
from core.services.memberships import membership_create, membership_update
from core.services.tenants import tenant_update
from core.services.tokens import api_token_create, api_token_revoke
from tests.factories import TenantFactory, UserFactory, member

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ROUNDS = 12


def _run_threads(workers) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def run(work):
        try:
            barrier.wait()
            for i in range(ROUNDS):
                work(i)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_mixed_services_on_one_tenant_do_not_deadlock():
    msp = TenantFactory(kind=Tenant.Kind.MSP)
    tenant = TenantFactory(parent=msp)
    member(tenant, Role.OWNER)  # a tenant keeps an owner throughout
    operator = member(msp, Role.OPERATOR)
    viewer = member(tenant, Role.VIEWER)
    membership = Membership.objects.get(user=viewer, tenant=tenant)

    def rename(i):
        tenant_update(actor=operator, tenant=Tenant.objects.get(pk=tenant.pk), name=f"T {i}")

    def change_role(i):
        role = Role.FINANCE if i % 2 else Role.VIEWER
        membership_update(actor=operator, membership=membership, role=role)

    def tokens(i):
        issued = api_token_create(actor=operator, tenant=tenant, name=f"tok {i}")
        api_token_revoke(actor=operator, token=issued.token)

    def add_members(i):
        membership_create(actor=operator, tenant=tenant, user=UserFactory(), role=Role.VIEWER)

    def suspend_toggle(i):
        status = Tenant.Status.SUSPENDED if i % 2 == 0 else Tenant.Status.ACTIVE
        tenant_update(actor=operator, tenant=Tenant.objects.get(pk=tenant.pk), status=status)

    errors = _run_threads([rename, change_role, tokens, add_members, suspend_toggle, change_role])
    assert errors == []
    report = next(verify_chains([tenant.pk]))
    assert report.first_break is None
    assert report.events >= ROUNDS * 5
