from core.models import AuditEvent


def test_login_logout_and_failed_login_are_audited(world, client):
    assert not client.login(username="owner-a", password="wrong")
    failed = AuditEvent.objects.get(event_type="auth.login_failed")
    assert failed.extra == {"username": "owner-a"}
    assert "wrong" not in str(failed.__dict__)

    assert client.login(username="owner-a", password="pass-1234-word")
    client.logout()
    types = list(
        AuditEvent.objects.filter(actor=world.owner_a, event_type__startswith="auth.")
        .order_by("seq")
        .values_list("event_type", flat=True)
    )
    assert types == ["auth.login", "auth.logout"]
