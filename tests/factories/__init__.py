"""factory_boy factories. Tenants and memberships go through the services, as in production."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from core.capabilities import Role
from core.models import Tenant
from core.services.memberships import membership_create

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-1234-word")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    parent = None


def member(tenant: Tenant, role: str = Role.VIEWER, **user_kwargs):
    """A user holding ``role`` on ``tenant`` (operator roles make the user staff)."""
    if role in (Role.OPERATOR, Role.OPERATOR_READONLY):
        user_kwargs.setdefault("is_staff", True)
    user = UserFactory(**user_kwargs)
    membership_create(actor=None, tenant=tenant, user=user, role=role)
    return user


def resource_row(connection, n: int, **fields):
    """A registry row of ``connection`` (provider id ``id-<n>``), as a sync would have stored it."""
    from django.utils import timezone

    from providers.models import Resource

    now = timezone.now()
    values = {
        "tenant_id": connection.tenant_id,
        "connection": connection,
        "provider": connection.provider,
        "provider_id": f"id-{n}",
        "type": "vm",
        "name": f"vm-{n}",
        "status": "running",
        "pricing_model": "on_demand",
        "first_seen_at": now,
        "last_seen_at": now,
        "content_hash": "0" * 64,
    }
    return Resource.objects.create(**{**values, **fields})
