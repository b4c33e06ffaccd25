"""``manage.py rotate_encryption_keys``: re-encrypt stored secrets with the newest key.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run this
command, then drop the old keys. The work is the ``encryption_keys_rotate`` service (see
``providers.services.encryption``); a row that no configured key can open is left exactly as it
is and listed, and the command then exits non-zero.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core import context
from providers.services.encryption import encryption_keys_rotate


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
        with context.acting("cli"):
            report = encryption_keys_rotate(actor=None, batch_size=batch_size, dry_run=dry_run)
        for done in report.models:
            self.stdout.write(
                f"{done.name}: {done.rows} rows, {done.secrets} secrets "
                f"{'readable' if dry_run else 're-encrypted'} in {done.batches} batch(es)"
            )
        if report.unreadable:
            for row in report.unreadable:
                self.stderr.write(f"  cannot decrypt: {row}")
            raise CommandError(
                f"{len(report.unreadable)} row(s) cannot be decrypted with any configured key and "
                "were left unchanged: " + "; ".join(report.unreadable)
            )
        self.stdout.write(self.style.SUCCESS("All secrets are encrypted with the first key."))
