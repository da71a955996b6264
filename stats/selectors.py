"""Dashboard figures, computed in PostgreSQL over the requests a caller may count.

Every figure comes from the request table's own columns (channel, status, category, service,
organisation, commune, timestamps), so procedures join the same figures when they exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import User
from tracking.models import OPEN_STATUSES, Channel, CitizenRequest, Status

# Assumptions of the dematerialisation estimate (written on the page).
TRIP_KM = 6.0  # a return trip to the town hall, on average
SHEETS_PER_REQUEST = 3  # form, acknowledgement, answer
CO2_G_PER_KM = 120  # an average car
AGE_BUCKETS = [
    (0, 7, "moins de 7 jours"),
    (7, 30, "7 à 30 jours"),
    (30, 90, "30 à 90 jours"),
    (90, None, "plus de 90 jours"),
]


@dataclass(frozen=True)
class Dashboard:
    total: int
    open: int
    closed_within_target: float | None  # share of closed requests closed within their target
    by_status: list[tuple[str, int]]
    by_category: list[tuple[str, int]]
    by_service: list[tuple[str, int]]
    by_commune: list[tuple[str, int]]
    by_channel: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    times: list[dict]  # per category: closed, median and p90 days, target, share within target
    backlog: list[tuple[str, int]]
    accounts_created: int
    online_share: float | None
    trips_avoided: int
    km_avoided: float
    co2_kg_avoided: float
    sheets_avoided: int


def _counts(qs, field: str, labels: dict | None = None, limit: int = 30) -> list[tuple[str, int]]:
    rows = qs.values(field).annotate(n=Count("pk")).order_by("-n", field)[:limit]
    return [((labels or {}).get(r[field], r[field]) or "—", r["n"]) for r in rows]


TIMES_SQL = """
    SELECT k.name, k.sla_days, count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY d),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY d),
           avg((d <= k.sla_days)::int)
    FROM (SELECT c.category_id,
                 extract(epoch FROM c.closed_at - c.created_at) / 86400.0 AS d
          FROM tracking_citizenrequest c
          WHERE c.id IN ({ids}) AND c.closed_at IS NOT NULL) t
    JOIN routing_category k ON k.id = t.category_id
    GROUP BY k.name, k.sla_days ORDER BY count(*) DESC, k.name
"""


def dashboard(scope: Q, *, filters_q: Q, today: dt.date | None = None) -> Dashboard:
    """The figures of the requests in ``scope`` matching the filters."""
    today = today or timezone.localdate()
    qs = CitizenRequest.objects.filter(scope & filters_q)
    status_labels = dict(Status.choices)
    total = qs.count()
    open_qs = qs.filter(status__in=OPEN_STATUSES)
    ids_sql, ids_params = qs.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(TIMES_SQL.format(ids=ids_sql), ids_params)
        times = [
            {
                "category": name,
                "target": sla,
                "closed": n,
                "median": round(med, 1),
                "p90": round(p90, 1),
                "within": round(100 * within, 0),
            }
            for name, sla, n, med, p90, within in cursor.fetchall()
        ]
    closed = sum(t["closed"] for t in times)
    within = round(sum(t["within"] * t["closed"] for t in times) / closed, 0) if closed else None
    backlog = []
    now = timezone.now()
    for low, high, label in AGE_BUCKETS:
        bucket = open_qs.filter(created_at__lte=now - dt.timedelta(days=low))
        if high is not None:
            bucket = bucket.filter(created_at__gt=now - dt.timedelta(days=high))
        backlog.append((label, bucket.count()))
    months = (
        qs.filter(created_at__date__gte=today.replace(day=1) - dt.timedelta(days=365))
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("month")
    )
    online = qs.filter(channel__in=["web", "api"]).count()
    return Dashboard(
        total=total,
        open=open_qs.count(),
        closed_within_target=within,
        by_status=_counts(qs, "status", status_labels),
        by_category=_counts(qs, "category__name"),
        by_service=_counts(qs, "service__name"),
        by_commune=_counts(qs, "commune__name"),
        by_channel=_counts(qs, "channel", dict(Channel.choices)),
        by_month=[(m["month"].strftime("%Y-%m"), m["n"]) for m in months],
        times=times,
        backlog=backlog,
        accounts_created=User.objects.filter(  # residents: verified, holding no role
            email_verified_at__isnull=False,
            memberships__isnull=True,
            administered__isnull=True,
            is_superuser=False,
        ).count(),
        online_share=round(100 * online / total, 0) if total else None,
        trips_avoided=online,
        km_avoided=round(online * TRIP_KM, 1),
        co2_kg_avoided=round(online * TRIP_KM * CO2_G_PER_KM / 1000, 1),
        sheets_avoided=online * SHEETS_PER_REQUEST,
    )


CELL_BASE_M = 25.0  # level 0; level L is 25 m × 2^L (stats.0002)
MAX_LEVEL = 7
MIN_MAINTAINED_LEVEL = 3  # finer cells (small viewports) are counted from the points


def heat_level(zoom: int) -> int:
    """The grid level for a map zoom: cells of roughly 30 screen pixels."""
    return max(0, min(MAX_LEVEL, 17 - zoom))


_BOUNDS = """
WITH env AS (
    SELECT ST_Transform(ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326), 2154) AS g
), b AS (
    SELECT env.g, floor(ST_XMin(g) / %(size)s)::int AS x0, floor(ST_YMin(g) / %(size)s)::int AS y0,
           floor(ST_XMax(g) / %(size)s)::int AS x1, floor(ST_YMax(g) / %(size)s)::int AS y1
    FROM env
)"""

# From the maintained aggregates: the rows of one dimension ("all" or the one filter used).
AGGREGATE_CELLS = """, cells AS (
    SELECT h.ix, h.iy, sum(h.n)::int AS n
    FROM stats_heatcell h, b
    WHERE h.level = %(level)s AND h.dim = %(dim)s
      AND (%(dim)s = 'all' OR h.value = ANY(%(values)s))
      AND (%(m0)s::date IS NULL OR h.month >= %(m0)s::date)
      AND (%(m1)s::date IS NULL OR h.month <= %(m1)s::date)
      AND h.ix BETWEEN b.x0 AND b.x1 AND h.iy BETWEEN b.y0 AND b.y1
    GROUP BY h.ix, h.iy
    HAVING sum(h.n) > 0
)"""

# From the points, for fine cells or combined filters (the GiST index narrows to the viewport).
POINT_CELLS = """, cells AS (
    SELECT floor(ST_X(c.location) / %(size)s)::int AS ix,
           floor(ST_Y(c.location) / %(size)s)::int AS iy, count(*)::int AS n
    FROM tracking_citizenrequest c, b
    WHERE c.location && b.g
      AND (%(m0)s::date IS NULL OR c.created_at >= %(m0)s::date)
      AND (%(m1)s::date IS NULL OR c.created_at < (%(m1)s::date + interval '1 month'))
      AND (cardinality(%(categories)s::bigint[]) = 0 OR c.category_id = ANY(%(categories)s))
      AND (cardinality(%(statuses)s::text[]) = 0 OR c.status = ANY(%(statuses)s))
      AND (cardinality(%(services)s::bigint[]) = 0 OR c.service_id = ANY(%(services)s))
      AND (%(all_orgs)s OR c.organisation_id = ANY(%(orgs)s))
    GROUP BY 1, 2
)"""

_OUTPUT = """
SELECT COALESCE(sum(n) FILTER (WHERE n >= %(k)s), 0)::int,
       count(*) FILTER (WHERE n >= %(k)s)::int,
       count(*) FILTER (WHERE n < %(k)s)::int,
       COALESCE(string_agg(json_build_object(
           'type', 'Feature',
           'geometry', ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(
               ix * %(size)s, iy * %(size)s, (ix + 1) * %(size)s, (iy + 1) * %(size)s, 2154),
               4326), 6)::json,
           'properties', json_build_object('count', n))::text, ',' ORDER BY ix, iy)
           FILTER (WHERE n >= %(k)s), '')
FROM cells
"""
HEAT_SQL = _BOUNDS + AGGREGATE_CELLS + _OUTPUT
HEAT_POINTS_SQL = _BOUNDS + POINT_CELLS + _OUTPUT


@dataclass(frozen=True)
class Heatmap:
    level: int
    cell_m: float
    total: int  # requests in the cells shown
    cells: int
    suppressed: int  # cells under k, not shown
    features: str  # comma-separated GeoJSON features
    source: str  # "aggregates" or "points"


def _dimension(filters, category_ids, organisations) -> tuple[str, list[str]] | None:
    """The one aggregate dimension answering these filters, or None (several filters)."""
    used = [
        ("category", [str(c) for c in category_ids]),
        ("status", list(filters.statuses)),
        ("service", [str(s) for s in filters.services]),
        (
            "organisation",
            [str(o) for o in sorted(organisations)] if organisations is not None else [],
        ),
    ]
    used = [(dim, values) for dim, values in used if values]
    if organisations is not None and not organisations:
        return None  # no organisation at all: the points path returns nothing
    if not used:
        return "all", []
    return used[0] if len(used) == 1 else None


def heatmap(
    bbox, *, zoom: int, filters, organisations: frozenset[int] | None, k: int, category_ids=()
) -> Heatmap:
    """Counts per grid cell in the viewport, cells with fewer than ``k`` requests left out
    (and counted as suppressed). From the maintained aggregates when one dimension answers
    (no filter, or one of period-plus category, status, service, or the caller's scope) and
    the cells are 200 m or more; otherwise from the points."""
    level = heat_level(zoom)
    size = CELL_BASE_M * 2**level
    dimension = _dimension(filters, category_ids, organisations)
    params = {
        "minx": bbox.minx,
        "miny": bbox.miny,
        "maxx": bbox.maxx,
        "maxy": bbox.maxy,
        "size": size,
        "level": level,
        "m0": filters.since.replace(day=1) if filters.since else None,
        "m1": filters.until.replace(day=1) if filters.until else None,
        "categories": list(category_ids),
        "statuses": list(filters.statuses),
        "services": list(filters.services),
        "all_orgs": organisations is None,
        "orgs": sorted(organisations or ()),
        "k": k,
        "dim": dimension[0] if dimension else "",
        "values": dimension[1] if dimension else [],
    }
    use_aggregates = dimension is not None and level >= MIN_MAINTAINED_LEVEL
    with connection.cursor() as cursor:
        cursor.execute(HEAT_SQL if use_aggregates else HEAT_POINTS_SQL, params)
        total, cells, suppressed, features = cursor.fetchone()
    return Heatmap(
        level,
        size,
        total,
        cells,
        suppressed,
        features,
        "aggregates" if use_aggregates else "points",
    )


def public_commune_counts(*, k: int, since: dt.date | None = None) -> list[tuple[str, int | None]]:
    """Requests per commune for the public statistics page; None where fewer than k."""
    qs = CitizenRequest.objects.filter(commune__isnull=False)
    if since:
        qs = qs.filter(created_at__date__gte=since)
    rows = qs.values("commune__name").annotate(n=Count("pk")).order_by("commune__name")
    return [(r["commune__name"], r["n"] if r["n"] >= k else None) for r in rows]
