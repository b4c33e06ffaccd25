import datetime as dt

import pytest
from django.utils import timezone

from core.models import ApiToken, AuditEvent, Membership
from core.services.tokens import api_token_create, api_token_revoke


def _bearer(client, raw):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def read_token(world):
    return api_token_create(actor=world.owner_a, tenant=world.a, name="ci", scope="read")


@pytest.fixture
def write_token(world):
    return api_token_create(actor=world.owner_a, tenant=world.a, name="ci-w", scope="write")


def test_raw_token_is_never_stored(world, read_token):
    token = ApiToken.objects.get(pk=read_token.token.pk)
    stored = " ".join(str(v) for v in token.__dict__.values())
    secret = read_token.raw.split("_", 2)[2]
    assert secret not in stored
    event = AuditEvent.objects.get(event_type="api_token.created", target_id=str(token.pk))
    assert secret not in str(event.after)
    assert secret not in str(event.extra)


def test_created_token_is_shown_once(world, api_as):
    client = api_as(world.owner_a)
    created = client.post(
        "/api/v1/tokens/", {"tenant": world.a.pk, "name": "integration", "scope": "read"}
    )
    assert created.status_code == 201, created.content
    assert created.json()["token"].startswith("izt_")
    listed = client.get(f"/api/v1/tokens/{created.json()['id']}/")
    assert "token" not in listed.json()


def test_valid_token_reads_its_tenant_only(world, api_client, read_token):
    response = _bearer(api_client, read_token.raw).get("/api/v1/tenants/")
    assert response.status_code == 200
    assert [t["slug"] for t in response.json()["results"]] == ["alpha"]


def test_expired_token_is_refused(world, api_client, read_token):
    ApiToken.objects.filter(pk=read_token.token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    response = _bearer(api_client, read_token.raw).get("/api/v1/tenants/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_revoked_token_is_refused(world, api_client, read_token):
    api_token_revoke(actor=world.owner_a, token=read_token.token)
    response = _bearer(api_client, read_token.raw).get("/api/v1/tenants/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_tampered_token_is_refused(world, api_client, read_token):
    response = _bearer(api_client, read_token.raw[:-2] + "xx").get("/api/v1/tenants/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API token."


def test_read_only_token_cannot_write(world, api_client, read_token):
    before = Membership.objects.count()
    response = _bearer(api_client, read_token.raw).post(
        "/api/v1/memberships/", {"tenant": world.a.pk, "email": "new@example.com", "role": "viewer"}
    )
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    assert Membership.objects.count() == before


def test_write_token_can_write_in_its_tenant(world, api_client, write_token):
    response = _bearer(api_client, write_token.raw).post(
        "/api/v1/memberships/", {"tenant": world.a.pk, "email": "new@example.com", "role": "viewer"}
    )
    assert response.status_code == 201, response.content
    event = AuditEvent.objects.get(
        event_type="membership.created",
        tenant=world.a,
        seq__gt=0,
        extra__username="new@example.com",
    )
    assert event.actor == world.owner_a
    assert event.source == "api"


def test_token_for_one_tenant_cannot_reach_another(world, api_client):
    # operator_a is also given tenant B, but the token is bound to A.
    from core.services.memberships import membership_create

    membership_create(actor=None, tenant=world.b, user=world.operator_a, role="operator")
    issued = api_token_create(actor=world.operator_a, tenant=world.a, name="a-only", scope="write")
    client = _bearer(api_client, issued.raw)

    assert client.get(f"/api/v1/tenants/{world.b.pk}/").status_code == 404
    listed = client.get("/api/v1/memberships/").json()["results"]
    assert {m["tenant"] for m in listed} == {world.a.pk}
    response = client.post(
        "/api/v1/memberships/", {"tenant": world.b.pk, "email": "x@example.com", "role": "viewer"}
    )
    assert response.status_code == 400
    assert "tenant" in response.json()
    assert not Membership.objects.filter(tenant=world.b, user__email="x@example.com").exists()


def test_token_cannot_outlive_the_maximum(world, api_as):
    response = api_as(world.owner_a).post(
        "/api/v1/tokens/",
        {
            "tenant": world.a.pk,
            "name": "forever",
            "expires_at": (timezone.now() + dt.timedelta(days=4000)).isoformat(),
        },
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()
    assert not ApiToken.objects.filter(name="forever").exists()


def test_revoke_is_audited_and_idempotent_errors_are_clear(world, api_as, read_token):
    client = api_as(world.owner_a)
    url = f"/api/v1/tokens/{read_token.token.pk}/revoke/"
    assert client.post(url).status_code == 200
    again = client.post(url)
    assert again.status_code == 400
    assert "already revoked" in str(again.json())
    assert AuditEvent.objects.filter(event_type="api_token.revoked").count() == 1


def test_tokens_can_be_listed_per_user(world, api_as):
    mine = api_token_create(actor=world.owner_a, tenant=world.a, name="mine").token
    api_token_create(actor=world.operator_a, tenant=world.a, name="theirs")

    response = api_as(world.owner_a).get("/api/v1/tokens/", {"user": world.owner_a.pk})

    assert response.status_code == 200
    assert [t["id"] for t in response.json()["results"]] == [mine.pk]


# --- a token never outlives the token that creates it; revocation cascades -----------------


def test_token_created_with_a_token_cannot_outlive_it(world, api_client):
    creator_expiry = timezone.now() + dt.timedelta(days=10)
    creator = api_token_create(
        actor=world.owner_a, tenant=world.a, name="ci", scope="write", expires_at=creator_expiry
    )
    client = _bearer(api_client, creator.raw)
    later = (creator_expiry + dt.timedelta(days=1)).isoformat()
    refused = client.post(
        "/api/v1/tokens/", {"tenant": world.a.pk, "name": "longer", "expires_at": later}
    )
    assert refused.status_code == 400, refused.content
    assert "outlive" in str(refused.json()["expires_at"])
    # Without an expiry, the child gets the creator's (shorter than the default lifetime).
    child = client.post("/api/v1/tokens/", {"tenant": world.a.pk, "name": "child"})
    assert child.status_code == 201, child.content
    token = ApiToken.objects.get(pk=child.json()["id"])
    assert token.expires_at == creator.token.expires_at
    assert token.created_by_token_id == creator.token.pk
    assert child.json()["created_by_token"] == creator.token.pk


def test_revoking_a_token_revokes_the_tokens_it_created(world, api_client, write_token):
    client = _bearer(api_client, write_token.raw)
    child_raw = client.post(
        "/api/v1/tokens/", {"tenant": world.a.pk, "name": "child", "scope": "write"}
    ).json()["token"]
    grandchild_id = (
        _bearer(api_client, child_raw)
        .post("/api/v1/tokens/", {"tenant": world.a.pk, "name": "grandchild"})
        .json()["id"]
    )
    unrelated = api_token_create(actor=world.owner_a, tenant=world.a, name="other")

    api_token_revoke(actor=world.owner_a, token=write_token.token)

    tokens = ApiToken.objects.filter(tenant=world.a)
    revoked = set(tokens.filter(revoked_at__isnull=False).values_list("name", flat=True))
    assert revoked == {"ci-w", "child", "grandchild"}
    assert ApiToken.objects.get(pk=unrelated.token.pk).revoked_at is None
    assert _bearer(api_client, child_raw).get("/api/v1/tenants/").status_code == 401
    cascaded = AuditEvent.objects.get(event_type="api_token.revoked", target_id=str(grandchild_id))
    assert cascaded.extra == {"cascade_from": write_token.token.pk}
    assert cascaded.actor_id == world.owner_a.pk


def test_an_operators_msp_token_creates_tokens_for_a_client_tenant(world, api_client):
    from core.capabilities import Role
    from tests.factories import member

    msp_operator = member(world.msp, Role.OPERATOR, username="msp-operator", is_staff=True)
    creator = api_token_create(actor=msp_operator, tenant=world.msp, name="msp", scope="write")

    response = _bearer(api_client, creator.raw).post(
        "/api/v1/tokens/", {"tenant": world.a.pk, "name": "for alpha"}
    )

    assert response.status_code == 201, response.content
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert token.tenant_id == world.a.pk
    assert token.created_by_token_id == creator.token.pk


def test_a_token_is_never_created_by_a_token_of_a_sibling_tenant(world):
    from django.core.exceptions import ValidationError

    sibling = api_token_create(actor=world.owner_b, tenant=world.b, name="beta").token
    token = ApiToken(tenant=world.a, user=world.owner_a, name="x", created_by_token=sibling)

    with pytest.raises(ValidationError) as refused:
        token.validate_tenant_relations()
    assert "created_by_token" in refused.value.message_dict
