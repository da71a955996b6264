"""Where the public sees a report: one rule for every public output.

A report's point is public only approximately: snapped to a grid of GRC_PUBLIC_PRECISION_M
metres (10 by default) in the storage SRID, Lambert-93, before any reprojection, so that it moves
by at most 0.71 × the grid and every public output shows the same point. A category about a
person's home (``Category.public_position`` "hidden": a bin not collected, pests) has no public
point at all: the public sees its commune only. The rule is the database function
``grc_public_location`` (migration routing.0004): hand-written statements call it as
``grc_public_location(c.location, k.public_position, %(public_grid)s::float8)`` (c: the
request's row, k: its category; parameters from ``sql_params()``), querysets through
``PublicLocation``. Filters on what the public asks
(a bbox, a distance) test the public point too, never the exact one, or bisecting them would
find it.

Those who handle the report, its author and the holder of its tracking key see the exact point
(``accounts.permissions`` and ``reports.selectors.report_access`` decide who).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db.models import PointField
from django.db.models import F, Func, Value
from django.db.models.fields import FloatField


def public_grid() -> float:
    """The grid of public positions, in metres."""
    return float(settings.GRC_PUBLIC_PRECISION_M)


def sql_params() -> dict:
    """The parameters of a statement that calls ``grc_public_location``."""
    return {"public_grid": public_grid()}


class PublicLocation(Func):
    """The public point of a request, for querysets: NULL for a
    category whose position is hidden, else snapped to the public grid."""

    function = "grc_public_location"

    def __init__(self, location: str = "location", position: str = "category__public_position"):
        super().__init__(
            F(location),
            F(position),
            Value(public_grid(), output_field=FloatField()),
            output_field=PointField(srid=settings.GRC_STORAGE_SRID),
        )


def public_location_of(report):
    """The public point of one report (storage SRID), or None: the value annotated by the
    selectors that read a report for a page (``report_by_reference``), else one query."""
    if hasattr(report, "public_location"):
        return report.public_location
    from .models import Report

    return (
        Report.objects.filter(pk=report.pk)
        .annotate(public_location=PublicLocation())
        .values_list("public_location", flat=True)
        .first()
    )
