"""Key rotation: re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), rotate
(``manage.py rotate_encryption_keys``), then drop the old keys. Every secret is read with
whichever configured key opens it and written back under the first key (``core.crypto.rotate``).
Rows are processed in batches, each in its own transaction with the rows locked, so a credential
replaced concurrently through a service is never overwritten with the old value, and no lock is
held on every connection at once. A row that no configured key can open is left exactly as it
is and reported. One platform audit event sums the rotation up (never a secret).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import record_event
from core.crypto import DecryptionError, reset_key_cache, rotate
from providers.models import Connection, CostSource

# Every model holding Fernet ciphertext, with its encrypted columns (extend when adding one).
ENCRYPTED_FIELDS = [
    (Connection, ("credentials_encrypted", "webhook_secret_encrypted")),
    (CostSource, ("credentials_encrypted",)),
]


@dataclass
class ModelRotation:
    name: str  # the model's verbose plural, for reports
    rows: int = 0
    secrets: int = 0
    batches: int = 0


@dataclass
class RotationReport:
    dry_run: bool
    models: list[ModelRotation] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.models)

    @property
    def secrets(self) -> int:
        return sum(m.secrets for m in self.models)


def encryption_keys_rotate(*, actor, batch_size: int = 500, dry_run: bool = False):
    """Rotate (or with ``dry_run`` only read) every secret; the report lists unreadable rows.

    ``actor`` None is the operator at the command line; a person must be a platform superuser.
    """
    if actor is not None and not (actor.is_active and actor.is_superuser):
        raise PermissionDenied(_("Only platform administrators rotate the encryption keys."))
    if batch_size < 1:
        raise ValidationError({"batch_size": _("The batch size must be at least 1.")})
    reset_key_cache()  # the keys as configured now, not as first read by this process
    report = RotationReport(dry_run=dry_run)
    for model, fields in ENCRYPTED_FIELDS:
        done = ModelRotation(name=str(model._meta.verbose_name_plural))
        _rotate_model(model, fields, batch_size, done, report.unreadable, dry_run=dry_run)
        report.models.append(done)
    if not dry_run:
        with transaction.atomic():
            record_event(
                event_type="crypto.keys_rotated",
                actor=actor,
                extra={
                    "rows": report.rows,
                    "values": report.secrets,
                    "unreadable": report.unreadable,
                },
            )
    return report


def _rotate_model(model, fields, batch_size, done: ModelRotation, unreadable, *, dry_run) -> None:
    last_pk = 0
    while True:
        with transaction.atomic():
            rows = list(
                model.objects.select_for_update(of=("self",))
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only("pk", "tenant", *fields)[:batch_size]
            )
            if not rows:
                return
            done.batches += 1
            last_pk = rows[-1].pk
            changed = [row for row in rows if _rotate_row(row, fields, done, unreadable)]
            if changed and not dry_run:
                model.objects.bulk_update(changed, fields)


def _rotate_row(row, fields, done: ModelRotation, unreadable: list[str]) -> bool:
    """Rotate the row's secrets in memory; False (row untouched) if any cannot be read."""
    rotated = {}
    for name in fields:
        token = getattr(row, name)
        if not token:
            continue
        try:
            rotated[name] = rotate(token)
        except DecryptionError:
            unreadable.append(_describe(row, name))
            return False
    for name, token in rotated.items():
        setattr(row, name, token)
    done.rows += 1
    done.secrets += len(rotated)
    return True


def _describe(row, name: str) -> str:
    label = row._meta.label_lower
    tenant = getattr(row, "tenant_id", None)
    return f"{label} id {row.pk} (tenant id {tenant}, field {name})"
