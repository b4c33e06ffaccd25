"""Emails the portal sends: invitations carry a one-time link to choose a password."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


def send_invitation(*, user, tenant, new_account: bool) -> None:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    if new_account:
        link = settings.SITE_URL + reverse(
            "portal:password_reset_confirm", kwargs={"uidb64": uid, "token": token}
        )
    else:
        # An existing account gets nothing until its owner accepts, logged in as themselves.
        link = settings.SITE_URL + reverse("portal:invitations")
    with translation.override(tenant.locale):
        context = {"user": user, "tenant": tenant, "link": link, "new_account": new_account}
        subject = render_to_string("portal/emails/invitation_subject.txt", context).strip()
        body = render_to_string("portal/emails/invitation.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
