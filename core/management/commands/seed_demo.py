"""Create the demo MSP, its clients and people — idempotent, through the services, audited.

Run as often as you like: what exists is kept, what is missing is created. Passwords are generated
once and kept in ``var/demo_credentials.json`` (mode 0600); set ``DEMO_PASSWORD`` to use one
password for every demo account instead (then nothing is written to disk).

Extending the demo: append a step function to ``STEPS`` below, or give an app a ``demo_steps``
module with a ``STEPS`` list (run after the core steps, in ``INSTALLED_APPS`` order). A step gets
the :class:`Demo` context — tenants and users by key, ``demo.say()`` for output — and must be
idempotent and write through services, like the steps here.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from core import context
from core.capabilities import Role
from core.models import Membership, Tenant
from core.services.memberships import membership_create
from core.services.tenants import tenant_create
from infrazen import local_state

User = get_user_model()

MSP = {"key": "msp", "name": "Demo MSP", "slug": "demo-msp", "locale": "en"}
CLIENTS = [
    {"key": "romashka", "name": "Romashka LLC", "slug": "romashka", "locale": "ru"},
    {"key": "vector", "name": "Vector Bank", "slug": "vector", "locale": "en"},
]
# key, username, email, what the account is for, flags
PEOPLE = [
    ("admin", "admin", "admin@demo-msp.example", "platform superuser (admin)", "superuser"),
    ("operator", "operator", "operator@demo-msp.example", "MSP operator (admin)", "staff"),
    ("romashka_owner", "romashka-owner", "owner@romashka.example", "owner of Romashka", ""),
    ("vector_owner", "vector-owner", "owner@vector.example", "owner of Vector Bank", ""),
]
MEMBERSHIPS = [
    ("operator", "romashka", Role.OPERATOR),
    ("operator", "vector", Role.OPERATOR),
    ("romashka_owner", "romashka", Role.OWNER),
    ("vector_owner", "vector", Role.OWNER),
]


@dataclass
class Demo:
    """What the steps share: created objects by key and the passwords to print."""

    command: BaseCommand
    stored_passwords: dict[str, str]
    reset_passwords: bool = False
    tenants: dict[str, Tenant] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)
    accounts: list[dict] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        self.command.stdout.write(message)

    def note_created(self, what: str) -> None:
        self.created.append(what)
        if self.command.verbosity >= 2:
            self.say(f"  created {what}")


def create_tenants(demo: Demo) -> None:
    def ensure(spec: dict, parent: Tenant | None, kind: str) -> Tenant:
        tenant = Tenant.objects.filter(slug=spec["slug"]).first()
        if tenant is None:
            tenant = tenant_create(
                actor=None,
                name=spec["name"],
                slug=spec["slug"],
                parent=parent,
                kind=kind,
                locale=spec["locale"],
            )
            demo.note_created(f"tenant {tenant.slug}")
        return tenant

    demo.tenants["msp"] = ensure(MSP, None, Tenant.Kind.MSP)
    for spec in CLIENTS:
        demo.tenants[spec["key"]] = ensure(spec, demo.tenants["msp"], Tenant.Kind.CLIENT)


def create_people(demo: Demo) -> None:
    shared = os.environ.get("DEMO_PASSWORD")
    for key, username, email, purpose, flags in PEOPLE:
        user = User.objects.filter(username=username).first()
        password = shared or demo.stored_passwords.get(username)
        must_set = user is None or demo.reset_passwords or password is None
        password = password or secrets.token_urlsafe(12)
        if user is None:
            user = User(username=username, email=email)
            demo.note_created(f"user {username}")
        elif shared and not user.check_password(shared):
            must_set = True
        user.is_staff = user.is_staff or bool(flags)
        user.is_superuser = user.is_superuser or flags == "superuser"
        if must_set:
            user.set_password(password)
        user.save()
        demo.users[key] = user
        demo.accounts.append({"username": username, "password": password, "what": purpose})


def assign_roles(demo: Demo) -> None:
    for user_key, tenant_key, role in MEMBERSHIPS:
        user, tenant = demo.users[user_key], demo.tenants[tenant_key]
        if not Membership.objects.filter(user=user, tenant=tenant).exists():
            membership_create(actor=None, tenant=tenant, user=user, role=role)
            demo.note_created(f"membership {user.username} @ {tenant.slug} ({role})")


Step = Callable[[Demo], None]
STEPS: list[Step] = [create_tenants, create_people, assign_roles]


def all_steps() -> list[Step]:
    """Core steps, then each app's ``demo_steps.STEPS`` in INSTALLED_APPS order."""
    steps = list(STEPS)
    for app_config in apps.get_app_configs():
        module_name = f"{app_config.name}.demo_steps"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        steps += [s for s in getattr(module, "STEPS", []) if s not in steps]
    return steps


class Command(BaseCommand):
    help = "Create (or complete) the demo MSP with two client tenants and demo users. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--credentials-file",
            default=None,
            help="where generated passwords are kept (default: var/demo_credentials.json)",
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="set the demo accounts' passwords again (to the stored or DEMO_PASSWORD ones)",
        )

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        path = Path(options["credentials_file"] or local_state.VAR_DIR / "demo_credentials.json")
        use_file = not os.environ.get("DEMO_PASSWORD")
        demo = Demo(
            command=self,
            stored_passwords=read_credentials(path) if use_file else {},
            reset_passwords=options["reset_passwords"],
        )
        with context.acting("cli"), transaction.atomic():
            for step in all_steps():
                step(demo)
        if use_file:
            write_credentials(path, demo.accounts)
        self.say_summary(demo, path if use_file else None)

    def say_summary(self, demo: Demo, path: Path | None) -> None:
        created = f"created {len(demo.created)} objects" if demo.created else "already complete"
        self.stdout.write(self.style.SUCCESS(f"Demo data: {created}."))
        where = f" (stored in {path})" if path else " (DEMO_PASSWORD)"
        self.stdout.write(f"Demo credentials{where}:")
        for account in demo.accounts:
            self.stdout.write(
                f"  {account['username']:<16} {account['password']:<18} {account['what']}"
            )


def read_credentials(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {a["username"]: a["password"] for a in data.get("accounts", []) if a.get("password")}


def write_credentials(path: Path, accounts: list[dict]) -> None:
    """Write atomically with mode 0600: the file holds passwords."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"accounts": accounts}, handle, indent=2)
        handle.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
