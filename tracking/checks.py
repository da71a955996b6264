"""System checks of the requests."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.db import DatabaseError


@checks.register(checks.Tags.database)
def public_grid(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """The stored public points must be on the grid of GRC_PUBLIC_PRECISION_M (checked by
    ``migrate`` and ``check --database default``)."""
    if not databases or "default" not in databases:
        return []
    from .services import public_grid_stored

    try:
        stored = public_grid_stored()
    except DatabaseError:  # no database yet: nothing stored to disagree with
        return []
    wanted = float(settings.GRC_PUBLIC_PRECISION_M)
    if stored is None or stored == wanted:
        return []
    return [
        checks.Warning(
            f"GRC_PUBLIC_PRECISION_M is {wanted:g} m but the public points of the requests are "
            f"stored on a {stored:g} m grid: every public output still shows the old grid.",
            hint="Run `python manage.py public_positions` (the deployment's migrate step does).",
            id="tracking.W001",
        )
    ]
