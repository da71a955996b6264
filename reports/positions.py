"""Where the public sees a report: one rule for every public output.

A report's point is public only approximately: snapped to a grid of GRC_PUBLIC_PRECISION_M
metres (10 by default) in the storage SRID, Lambert-93, before any reprojection, so that it moves
by at most 0.71 × the grid and every public output shows the same point. A category about a
person's home (``Category.public_position`` "hidden": a bin not collected, pests) has no public
point at all: the public sees its commune only.

The public point is stored: ``CitizenRequest.public_location`` (column
``tracking_citizenrequest.public_location``, GiST-indexed), NULL for a category about a home or
a request without a point, written by the database only (migration tracking.0005: a trigger on
the request's row when its point or category is written, one on a category whose position is
made hidden or public again, both through ``tracking_public_location()``). Every public query
reads that column and nothing else: the map, the OGC collection, "already reported here", the
report API, the exports for rows the caller is not entitled to, the open data and its
fingerprint, the public heatmap's cells from the points. Filters on what the public asks (a
bbox, a distance) test it too, never the exact point, or bisecting them would find it.

The grid is stored with the points (table ``tracking_public_grid``); when GRC_PUBLIC_PRECISION_M
changes, ``manage.py public_positions`` recomputes them (the deployment's migrate step runs it;
system check tracking.W001 warns while they differ).

Those who handle the report, its author and the holder of its tracking key see the exact point
(``accounts.permissions`` and ``reports.selectors.report_access`` decide who), and the place in
words and pictures (``shows_place``).
"""

from __future__ import annotations

from typing import Any


def shows_place(report: Any, *, may_see_private: bool) -> bool:
    """Whether this reader sees where the report is told in words and pictures (address,
    equipment, description, photos): always those who may see its private data; the public
    unless its category is about a home (``Category.place_is_public``)."""
    return may_see_private or report.category is None or report.category.place_is_public
