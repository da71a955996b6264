"""Keep the stored public points on the grid of GRC_PUBLIC_PRECISION_M (reports.positions)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from tracking.services import public_grid_stored, public_positions_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the public point of every request when GRC_PUBLIC_PRECISION_M differs from "
        "the grid they were stored on (run after migrate; idempotent, a no-op when they agree). "
        "Writes to requests wait while it runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Recompute them even if the grid is unchanged (after a bulk load that "
            "bypassed the triggers).",
        )

    def handle(self, *args, **options):
        wanted = float(settings.GRC_PUBLIC_PRECISION_M)
        stored = public_grid_stored()
        if stored == wanted and not options["rebuild"]:
            self.stdout.write(f"Public positions: on the {wanted:g} m grid already.")
            return
        started = time.monotonic()
        count = public_positions_rebuild(grid=wanted)
        before = "none" if stored is None else f"{stored:g} m"
        self.stdout.write(
            f"Public positions: grid {before} -> {wanted:g} m, {count} requests recomputed in "
            f"{time.monotonic() - started:.1f} s."
        )
