"""factory_boy factories. Rows with secrets or side effects (memberships, connections, cost
sources, imports) go through their services, as in production; plain records (users, tenants,
resources as a sync stored them) are inserted directly."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from core.capabilities import Role
from core.models import Tenant
from core.services.memberships import membership_create

User = get_user_model()


def _now():
    from django.utils import timezone

    return timezone.now()


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


class _ServiceFactory(factory.Factory):
    """A factory whose ``create`` calls a service (``service``) with the declared fields."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return cls._service()(**kwargs)


def sample_credentials(provider: str, name: str = "sample") -> dict:
    """Credentials each provider's declaration accepts (no network is involved in accepting)."""
    samples = {
        "yandex_cloud": {"oauth_token": f"y0_{name.replace(' ', '_')}"},
        "selectel": {"username": "finops-bot", "password": "sample-secret", "account_id": "123456"},
        "vk_cloud": {
            "username": "finops@example.com",
            "password": "sample-secret",
            "project_id": "b5b7ffd4ef0547e5b222f44555df0a11",
            "user_domain": "users",
            "auth_url": "https://infra.mail.ru:35357/v3/",
        },
        "beget": {"login": "acme", "api_password": "sample-secret"},
    }
    return dict(samples[provider])


class ConnectionFactory(_ServiceFactory):
    """``connection_create`` without the first sync (credentials encrypted, webhook secret set).

    The default provider is Yandex Cloud with an OAuth token; point ``endpoints`` at a closed
    local port (see tests.contracts.samples) for syncs that fail at once with no network.
    """

    class Meta:
        model = "providers.Connection"

    actor = None
    tenant = factory.SubFactory(TenantFactory)
    provider = "yandex_cloud"
    name = factory.Sequence(lambda n: f"Connection {n}")
    credentials = factory.LazyAttribute(lambda o: sample_credentials(o.provider, o.name))
    start_sync = False

    @staticmethod
    def _service():
        from providers.services.connections import connection_create

        return connection_create


class CostSourceFactory(_ServiceFactory):
    """``cost_source_create`` without the first pull: a Yandex billing export by default."""

    class Meta:
        model = "providers.CostSource"

    actor = None
    tenant = factory.SubFactory(TenantFactory)
    kind = "yandex_billing_export"
    name = factory.Sequence(lambda n: f"Cost source {n}")
    bucket = "billing-bucket"
    credentials = factory.LazyFunction(
        lambda: {"access_key_id": "YCAJEsample", "secret_access_key": "YCsample"}
    )
    start_pull = False

    @staticmethod
    def _service():
        from providers.services.cost_sources import cost_source_create

        return cost_source_create


def focus_file(rows: int = 5, seed: int = 1, month: int = 1):
    """A small conformant FOCUS 1.2 CSV in memory."""
    import io

    from providers.focus import write_focus_csv
    from tests.providers.focus.factories import conformant_rows

    text = io.StringIO()
    write_focus_csv(text, conformant_rows(rows, seed=seed, month=month))
    return io.BytesIO(text.getvalue().encode())


class ImportRunFactory(_ServiceFactory):
    """A real import (``cost_file_import``) of a small generated FOCUS file: the run, its line
    items and rollups. ``rows``, ``seed`` and ``month`` shape the file; ``file`` replaces it."""

    class Meta:
        model = "providers.ImportRun"

    class Params:
        rows = 5
        seed = factory.Sequence(lambda n: n + 1)
        month = 1

    actor = None
    tenant = factory.SubFactory(TenantFactory)
    file = factory.LazyAttribute(lambda o: focus_file(o.rows, o.seed, o.month))
    file_name = factory.LazyAttribute(lambda o: f"focus-{o.seed}.csv")
    source_key = factory.Sequence(lambda n: f"focus-{n}")

    @staticmethod
    def _service():
        from providers.services.costs import cost_file_import

        return cost_file_import


class ResourceFactory(factory.django.DjangoModelFactory):
    """A registry row as a sync would have stored it (provider id ``id-<n>``)."""

    class Meta:
        model = "providers.Resource"

    connection = factory.SubFactory(ConnectionFactory)
    tenant_id = factory.SelfAttribute("connection.tenant_id")
    provider = factory.SelfAttribute("connection.provider")
    provider_id = factory.Sequence(lambda n: f"res-{n}")
    type = "vm"
    name = factory.Sequence(lambda n: f"vm-res-{n}")
    status = "running"
    pricing_model = "on_demand"
    first_seen_at = factory.LazyFunction(_now)
    last_seen_at = factory.SelfAttribute("first_seen_at")
    content_hash = "0" * 64


def resource_row(connection, n: int, **fields):
    """A registry row of ``connection`` numbered ``n``: provider id ``id-<n>``, name ``vm-<n>``."""
    return ResourceFactory(
        connection=connection, **{"provider_id": f"id-{n}", "name": f"vm-{n}", **fields}
    )
