"""``manage.py rotate_encryption_keys``: re-encrypt stored secrets with the newest key.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run this
command, then drop the old keys. Every secret is read with whichever configured key opens it and
written back under the first key (``core.crypto.rotate``). Rows are processed in batches, each in
its own transaction with the rows locked, so a credential replaced concurrently through the
service is never overwritten with the old value. A row that no configured key can open is left
exactly as it is and listed; the command then exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import context
from core.audit import record_event
from core.crypto import DecryptionError, reset_key_cache, rotate
from providers.models import Connection, CostSource

# Every model holding Fernet ciphertext, with its encrypted columns (extend when adding one).
ENCRYPTED_FIELDS = [
    (Connection, ("credentials_encrypted", "webhook_secret_encrypted")),
    (CostSource, ("credentials_encrypted",)),
]


@dataclass
class Tally:
    rows: int = 0
    secrets: int = 0
    unreadable: list[str] = field(default_factory=list)


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (connection credentials and webhook secrets) with the "
        "first key of FIELD_ENCRYPTION_KEYS. Exits non-zero listing rows no key can decrypt."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--dry-run", action="store_true", help="Only check that every secret can be read."
        )

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        reset_key_cache()  # the keys as configured now, not as first read by this process
        tally = Tally()
        with context.acting("cli"):
            for model, fields in ENCRYPTED_FIELDS:
                rows, secrets = tally.rows, tally.secrets
                batches = rotate_model(model, fields, batch_size, tally, dry_run=dry_run)
                self.stdout.write(
                    f"{model._meta.verbose_name_plural}: {tally.rows - rows} rows, "
                    f"{tally.secrets - secrets} secrets "
                    f"{'readable' if dry_run else 're-encrypted'} in {batches} batch(es)"
                )
            if not dry_run:
                with transaction.atomic():
                    # One platform event per rotation: what was done, never a secret.
                    record_event(
                        event_type="crypto.keys_rotated",
                        extra={
                            "rows": tally.rows,
                            "values": tally.secrets,
                            "unreadable": tally.unreadable,
                        },
                    )
        if tally.unreadable:
            for row in tally.unreadable:
                self.stderr.write(f"  cannot decrypt: {row}")
            raise CommandError(
                f"{len(tally.unreadable)} row(s) cannot be decrypted with any configured key and "
                "were left unchanged: " + "; ".join(tally.unreadable)
            )
        self.stdout.write(self.style.SUCCESS("All secrets are encrypted with the first key."))


def rotate_model(model, fields, batch_size: int, tally: Tally, *, dry_run: bool) -> int:
    """Rotate ``fields`` of every row of ``model``, batch by batch; returns the batch count."""
    last_pk, batches = 0, 0
    while True:
        with transaction.atomic():
            rows = list(
                model.objects.select_for_update(of=("self",))
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only("pk", "tenant", *fields)[:batch_size]
            )
            if not rows:
                return batches
            batches += 1
            last_pk = rows[-1].pk
            changed = [row for row in rows if _rotate_row(row, fields, tally)]
            if changed and not dry_run:
                model.objects.bulk_update(changed, fields)


def _rotate_row(row, fields, tally: Tally) -> bool:
    """Rotate the row's secrets in memory; False (row untouched) if any cannot be read."""
    rotated = {}
    for name in fields:
        token = getattr(row, name)
        if not token:
            continue
        try:
            rotated[name] = rotate(token)
        except DecryptionError:
            tally.unreadable.append(_describe(row, name))
            return False
    for name, token in rotated.items():
        setattr(row, name, token)
    tally.rows += 1
    tally.secrets += len(rotated)
    return True


def _describe(row, name: str) -> str:
    label = row._meta.label_lower
    tenant = getattr(row, "tenant_id", None)
    return f"{label} id {row.pk} (tenant id {tenant}, field {name})"
