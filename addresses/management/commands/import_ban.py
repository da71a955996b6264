"""Load the national address base (BAN) CSV for the portal's communes.

    python manage.py import_ban adresses-62.csv [adresses-59.csv ...]

Files from https://adresse.data.gouv.fr/data/ban/adresses/latest/csv/ (one per département;
gzip accepted). Only the addresses of communes in the database's agglomeration are kept.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from addresses.services import addresses_import_ban_csv
from territory.models import Commune


class Command(BaseCommand):
    help = "Import BAN address CSV files (adresses-<département>.csv[.gz]) for our communes."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)

    def handle(self, *args, files: list[Path], **options):
        codes = set(Commune.objects.filter(epci__isnull=False).values_list("insee", flat=True))
        if not codes:
            raise CommandError("No commune in the database: run load_territory first.")
        for path in files:
            if not path.exists():
                raise CommandError(f"{path}: no such file.")
            opener = gzip.open if path.suffix == ".gz" else open
            with (
                opener(path, "rb") as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle,
            ):
                try:
                    result = addresses_import_ban_csv(handle, insee_codes=codes)
                except (ValueError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
                    raise CommandError(f"{path}: {exc}") from None
            self.stdout.write(
                f"{path.name}: {result.imported} addresses imported, {result.skipped_outside} "
                f"outside the agglomeration, {result.rejected} rejected, {result.read} read."
            )
