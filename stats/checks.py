"""System checks of the statistics."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

# The zone in which the aggregate triggers cut months (migrations stats.0002, 0004, 0005:
# ``created_at AT TIME ZONE 'Europe/Paris'``); Python cuts periods in settings.TIME_ZONE.
AGGREGATES_TIME_ZONE = "Europe/Paris"


@checks.register("stats")
def aggregates_time_zone(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The monthly aggregates and the dashboards' periods must cut months in the same zone."""
    if settings.TIME_ZONE == AGGREGATES_TIME_ZONE:
        return []
    return [
        checks.Error(
            f"TIME_ZONE is {settings.TIME_ZONE!r} but the statistics' aggregates cut months in "
            f"{AGGREGATES_TIME_ZONE!r}: the dashboards would count the first and last hours of "
            "each month in the wrong month.",
            hint="Keep TIME_ZONE, or write a migration that rebuilds the aggregate triggers and "
            "tables in the new zone and change AGGREGATES_TIME_ZONE with it.",
            id="stats.E001",
        )
    ]
