"""Portal forms. They validate input; writes go through services."""

from __future__ import annotations

import unicodedata

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.capabilities import OPERATOR_ROLES, ROLE_RANK, Role
from core.services.memberships import actor_rank
from core.services.portal_accounts import user_password_set

User = get_user_model()


class LoginForm(auth_forms.AuthenticationForm):
    """Accepts the username or, when it names exactly one active account, the email address."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username or email")

    def clean(self):
        login = (self.cleaned_data.get("username") or "").strip()
        if "@" in login and not User.objects.filter(username=login).exists():
            matches = list(
                User.objects.filter(email__iexact=login, is_active=True).values_list(
                    "username", flat=True
                )[:2]
            )
            if len(matches) == 1:
                self.cleaned_data["username"] = matches[0]
        return super().clean()


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    def save(self, commit=True):
        return user_password_set(
            actor=self.user,
            user=self.user,
            raw_password=self.cleaned_data["new_password1"],
            reason="change",
        )


class SetPasswordForm(auth_forms.SetPasswordForm):
    """The form behind reset links and invitation links (the holder of the token acts)."""

    def save(self, commit=True):
        return user_password_set(
            actor=self.user,
            user=self.user,
            raw_password=self.cleaned_data["new_password1"],
            reason="reset",
        )


class PasswordResetForm(auth_forms.PasswordResetForm):
    def get_users(self, email):
        """Active accounts with this email, including invited people who never chose a password
        (their invitation link may have expired). Django skips those by default because they
        might sign in elsewhere (LDAP, SSO); InfraZen accounts only sign in with a password."""
        email_field = User.get_email_field_name()
        for user in User._default_manager.filter(
            **{f"{email_field}__iexact": email, "is_active": True}
        ):
            if _same_email(email, getattr(user, email_field)):
                yield user


def _same_email(a: str, b: str) -> bool:
    def fold(text: str) -> str:
        return unicodedata.normalize("NFKC", text).casefold()

    return fold(a) == fold(b)


def grantable_roles(actor, tenant, *, for_user=None, rank=None) -> list[tuple[str, str]]:
    """Roles the actor may hand out on ``tenant``: never above their own rank; operator roles only
    from MSP staff, and only to staff accounts when the grantee is known. Pass ``rank``
    (``actor_rank``) when calling this for many rows."""
    rank = actor_rank(actor, tenant) if rank is None else rank
    staff_grantee = actor.is_staff if for_user is None else (actor.is_staff and for_user.is_staff)
    return [
        (role.value, role.label)
        for role in Role
        if ROLE_RANK[role] <= rank and (role not in OPERATOR_ROLES or staff_grantee)
    ]


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), initial=Role.VIEWER)

    def __init__(self, *args, role_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices
        self.fields["email"].widget.attrs.update(
            {"placeholder": "name@example.com", "autocomplete": "off"}
        )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args, role_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices


def apply_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: field errors where the field exists."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
