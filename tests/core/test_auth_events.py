from core.models import AuditEvent


def _login(client, username, password):
    # Through the portal's login page: django-axes needs the request to count failures.
    return client.post("/portal/login/", {"username": username, "password": password})


def test_login_logout_and_failed_login_are_audited(world, client):
    assert _login(client, "owner-a", "wrong").status_code == 200
    failed = AuditEvent.objects.get(event_type="auth.login_failed")
    assert failed.extra == {"username": "owner-a"}
    assert "wrong" not in str(failed.__dict__)

    assert _login(client, "owner-a", "pass-1234-word").status_code == 302
    client.logout()
    types = list(
        AuditEvent.objects.filter(actor=world.owner_a, event_type__startswith="auth.")
        .order_by("seq")
        .values_list("event_type", flat=True)
    )
    assert types == ["auth.login", "auth.logout"]
