"""Dashboard figures, computed in PostgreSQL over the requests a caller may count.

Every figure comes from the request table's own columns (channel, status, category, service,
organisation, commune, timestamps), so procedures join the same figures when they exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import layers_filter_for, stats_scope
from core.db import bound_cursor
from tracking.filters import RequestFilters, day_start
from tracking.models import OPEN_STATUSES, Channel, CitizenRequest, Status

# Assumptions of the dematerialisation estimate (written on the page).
TRIP_KM = 6.0  # a return trip to the town hall, on average
SHEETS_PER_REQUEST = 3  # form, acknowledgement, answer
CO2_G_PER_KM = 120  # an average car
ONLINE_CHANNELS = (Channel.WEB, Channel.API)
AGE_BUCKETS = [
    (0, 7, _("moins de 7 jours")),
    (7, 30, _("7 à 30 jours")),
    (30, 90, _("30 à 90 jours")),
    (90, None, _("plus de 90 jours")),
]


@dataclass(frozen=True)
class Dashboard:
    total: int
    open: int
    resolved: int  # status "resolved"
    resolution_rate: float | None  # resolved ÷ total, in %
    median_days: float | None  # median processing time of the closed requests, in days
    overdue: int  # open requests past their due date (the problem's target, tracking.due_at)
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
    # "counts": the maintained monthly counts; "requests": the rows; "counts+requests": the
    # whole months from the counts, the partial first and last months from the rows
    source: str = "requests"


# Exact percentiles of the closed requests' processing times, per problem and for all of them;
# {durations} gives (category_id, days): the maintained closed times (stats.0008) when they
# answer the filters, else the requests' own query (scope and filters), so its indexes serve.
TIMES_SQL = """
    WITH d AS MATERIALIZED (
        SELECT d.category_id, k.sla_days, d.days
        FROM ({durations}) AS d (category_id, days)
        JOIN routing_category k ON k.id = d.category_id
    ), t AS (
        SELECT false AS whole, category_id, count(*) AS n,
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY days) AS p,
               count(*) FILTER (WHERE days <= sla_days) AS within
        FROM d GROUP BY category_id
        UNION ALL
        SELECT true, NULL, count(*), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY days),
               count(*) FILTER (WHERE days <= sla_days)
        FROM d
    )
    SELECT t.whole, k.name, k.sla_days, t.n, t.p, t.within
    FROM t LEFT JOIN routing_category k ON k.id = t.category_id
    ORDER BY t.whole, t.n DESC, k.name
"""
DURATIONS_FROM_REQUESTS = """
    SELECT c.category_id, date_part('epoch', c.closed_at - c.created_at) / 86400.0
    FROM ({closed}) AS c (category_id, created_at, closed_at)
"""
# The same figures from the maintained closed times (stats.0008): each problem's durations
# and all of them read in order through an index, so that each percentile's sort finds them
# already sorted (a check, not a sort); {where} narrows them to the scope and filters.
TIMES_FROM_CLOSED_TIMES = """
    SELECT false, k.name, k.sla_days, x.n, x.p, x.within
    FROM routing_category k
    CROSS JOIN LATERAL (
        SELECT count(*) AS n,
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY days) AS p,
               count(*) FILTER (WHERE days <= k.sla_days) AS within
        FROM (SELECT t.days FROM stats_closedtime t
              WHERE t.category_id = k.id {where} ORDER BY t.days) s
    ) x
    WHERE x.n > 0
    ORDER BY 4 DESC, 2
"""
# The overall median of the same times: the middle one or two read in order (an index-only
# scan of half of them, no sort), interpolated as percentile_cont does.
MIDDLE_CLOSED_TIMES = """
    SELECT t.days FROM stats_closedtime t
    WHERE t.category_id IS NOT NULL {where}
    ORDER BY t.days OFFSET %(offset)s LIMIT 2
"""
CLOSED_TIMES_WHERE = """
      AND (%(a0)s::timestamptz IS NULL OR t.created_at >= %(a0)s::timestamptz)
      AND (%(a1)s::timestamptz IS NULL OR t.created_at < %(a1)s::timestamptz)
      AND (%(all_orgs)s OR t.organisation_id = ANY(%(orgs)s))
      AND (cardinality(%(services)s::int[]) = 0 OR t.service_id = ANY(%(services)s))
      AND (cardinality(%(categories)s::int[]) = 0 OR t.category_id = ANY(%(categories)s))"""


# Every breakdown of the dashboard from the maintained counts (stats.0004), labels joined.
MONTH_SQL = """
WITH m AS (
    -- Summed once, in one pass: every breakdown below reads these few rows (the months of
    -- the period are kept only for the "all" rows of the last 12, the monthly chart). Read
    -- three times as they stood, the period's rows (59,000 over ten years for a million
    -- requests) were spilled to a temporary file.
    SELECT dim, value, service_id,
           CASE WHEN dim = 'all' AND month >= %(last12)s THEN month END AS recent,
           sum(n)::int AS n
    FROM stats_monthcount
    WHERE (%(all_orgs)s OR organisation_id = ANY(%(orgs)s))
      AND (cardinality(%(services)s::int[]) = 0 OR service_id = ANY(%(services)s))
      AND (%(m0)s::date IS NULL OR month >= %(m0)s::date)
      AND (%(m1)s::date IS NULL OR month <= %(m1)s::date)
    GROUP BY 1, 2, 3, 4
), breakdown AS (
    SELECT dim, value, sum(n)::int AS n FROM m GROUP BY dim, value
    UNION ALL
    SELECT 'service', service_id::text, sum(n)::int FROM m WHERE dim = 'all' GROUP BY service_id
    UNION ALL
    SELECT 'month', to_char(recent, 'YYYY-MM'), sum(n)::int FROM m
    WHERE recent IS NOT NULL GROUP BY recent
)
SELECT b.dim, b.value, CASE b.dim WHEN 'category' THEN k.name WHEN 'commune' THEN t.name
                                  WHEN 'service' THEN s.name ELSE b.value END, b.n
FROM breakdown b
LEFT JOIN routing_category k ON b.dim = 'category' AND k.id::text = b.value
LEFT JOIN territory_commune t ON b.dim = 'commune' AND t.id::text = b.value
LEFT JOIN organisations_service s ON b.dim = 'service' AND s.id::text = b.value
WHERE b.n <> 0
"""


def _counts_answer(filters) -> bool:
    """Whether the maintained counts can answer these filters' whole months (scope and
    services: no problem, status, commune or channel filter)."""
    return not (filters.categories or filters.statuses or filters.communes or filters.channels)


def _answered_by_counts(filters) -> bool:
    """Whether the maintained counts answer these filters alone: whole months, and services."""
    return _counts_answer(filters) and _whole_months(filters.since, filters.until)


def first_of_12_months(today: dt.date) -> dt.date:
    month = today.year * 12 + today.month - 1 - 11
    return dt.date(month // 12, month % 12 + 1, 1)


def _whole_months_within(since, until) -> tuple[dt.date | None, dt.date | None] | None:
    """The first and last day of the whole months inside [since, until] (None: open), or None
    when no whole month is inside."""
    first = since if since is None or since.day == 1 else _next_month(since)
    if until is None or (until + dt.timedelta(days=1)).day == 1:
        last = until
    else:
        last = until.replace(day=1) - dt.timedelta(days=1)
    if first is not None and last is not None and first > last:
        return None
    return first, last


# A breakdown's raw rows: dim -> {value: [label, n]}; values are codes or ids as text, the
# monthly counts' own ("0" / "" for none), so that both paths add up.
Raw = dict[str, dict[str, list]]
_LABELLED = {"status": dict(Status.choices), "channel": dict(Channel.choices)}


def _raw_from_counts(organisations, filters, today) -> Raw:
    """The breakdowns over the filters' period (whole months) from the monthly counts."""
    m0, m1 = _months(filters.since, filters.until)
    params = {
        "all_orgs": organisations is None,
        "orgs": sorted(organisations or ()),
        "services": list(filters.services),
        "m0": m0,
        "m1": m1,
        "last12": first_of_12_months(today),
    }
    found: Raw = {}
    with connection.cursor() as cursor:
        cursor.execute(MONTH_SQL, params)
        for dim, value, label, n in cursor.fetchall():
            found.setdefault(dim, {})[value] = [label, n]
    return found


def _raw_from_requests(qs, today) -> Raw:
    """The same breakdowns counted from the requests of ``qs`` (any filter)."""
    found: Raw = {}
    groups = {
        "status": ("status", None, ""),
        "category": ("category_id", "category__name", ""),
        "service": ("service_id", "service__name", "0"),
        "commune": ("commune_id", "commune__name", ""),
        "channel": ("channel", None, ""),
    }
    for dim, (field, name, none) in groups.items():
        fields = (field, name) if name else (field,)
        for r in qs.values(*fields).annotate(n=Count("pk")).order_by():
            value = none if r[field] is None else str(r[field])
            found.setdefault(dim, {})[value] = [r[name] if name else value, r["n"]]
    months = (
        qs.filter(created_at__gte=day_start(first_of_12_months(today)))
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for m in months:
        found.setdefault("month", {})[m["month"].strftime("%Y-%m")] = [None, m["n"]]
    return found


def _add(raw: Raw, more: Raw) -> Raw:
    for dim, values in more.items():
        into = raw.setdefault(dim, {})
        for value, (label, n) in values.items():
            if value in into:
                into[value][1] += n
            else:
                into[value] = [label, n]
    return raw


def _finish(raw: Raw) -> dict[str, list[tuple[str, int]]]:
    """Each breakdown ranked (30 at most; ties by code for statuses and channels, else by
    name) with its labels; the months in order."""
    out = {}
    for dim, values in raw.items():
        rows = [(v, label, n) for v, (label, n) in values.items() if n]
        if dim == "month":
            out[dim] = sorted((v, n) for v, _, n in rows)
            continue
        if dim in _LABELLED:
            rows = [(v, str(_LABELLED[dim].get(v, v)), n) for v, _, n in rows]
        tie = 0 if dim in _LABELLED else 1
        ranked = sorted(rows, key=lambda r: (-r[2], r[tie] or ""))[:30]
        out[dim] = [(label or "—", n) for _, label, n in ranked]
    return out


ORDERED_TIMES_FROM = 150_000  # requests in the period from which times are read in order


def _times_statement(organisations, filters, qs, source: str, total: int) -> tuple[str, object]:
    """The processing times' statement: from the maintained closed times (any period, to the
    day) unless a status, commune or channel filter needs the requests, or ``source`` says
    "requests". Up to ORDERED_TIMES_FROM requests in the period their times are read by
    creation and sorted; beyond, read in order of duration (no sort, but every time of each
    problem is read)."""
    if source != "requests" and not (filters.statuses or filters.communes or filters.channels):
        from tracking.filters import category_ids  # not at the top: parameters here bear its name

        start, end = filters.bounds()
        params = {
            "a0": start,
            "a1": end,
            "all_orgs": organisations is None,
            "orgs": sorted(organisations or ()),
            "services": list(filters.services),
            "categories": category_ids(filters) if filters.categories else [],
        }
        if total >= ORDERED_TIMES_FROM:  # the overall median: _middle_closed_time()
            return TIMES_FROM_CLOSED_TIMES.replace("{where}", CLOSED_TIMES_WHERE), params
        durations = "SELECT t.category_id, t.days FROM stats_closedtime t WHERE true"
        return TIMES_SQL.format(durations=durations + CLOSED_TIMES_WHERE), params
    closed_sql, closed_params = (
        qs.filter(closed_at__isnull=False)
        .order_by()
        .values_list("category_id", "created_at", "closed_at")
        .query.sql_with_params()
    )
    durations = DURATIONS_FROM_REQUESTS.format(closed=closed_sql)
    return TIMES_SQL.format(durations=durations), closed_params


def _middle_closed_time(params: dict, n: int) -> float:
    """The median of the ``n`` closed times that ``params`` select (percentile_cont's
    interpolation, in the same float arithmetic)."""
    position = 0.5 * (n - 1)
    first = math.floor(position)
    with connection.cursor() as cursor:
        cursor.execute(
            MIDDLE_CLOSED_TIMES.replace("{where}", CLOSED_TIMES_WHERE),
            params | {"offset": first},
        )
        values = [row[0] for row in cursor.fetchall()]
    if len(values) == 1 or position == first:
        return values[0]
    return values[0] + (values[1] - values[0]) * (position - first)


def dashboard(
    organisations: frozenset[int] | None,
    *,
    filters,
    today: dt.date | None = None,
    source: str = "auto",
) -> Dashboard:
    """The figures of the requests of ``organisations`` (None: all) matching the filters.

    Counts come from the maintained monthly counts for the whole months of the period when
    they answer the filters (scope and services), the partial first and last months from the
    requests; with another filter, from the requests (``source`` forces one: "counts", whole
    months only, or "requests"). Processing times (exact percentiles) and the open requests by
    age are computed from the requests, through indexes that keep them small."""
    today = today or timezone.localdate()
    scope = stats_scope(organisations)
    qs = CitizenRequest.objects.filter(scope & filters.q())
    if source == "counts" and not _answered_by_counts(filters):
        raise ValueError("The monthly counts do not answer these filters.")
    inside = _whole_months_within(filters.since, filters.until)
    use_counts = source == "counts" or (
        source == "auto" and _counts_answer(filters) and inside is not None
    )
    if use_counts:
        first, last = inside
        months = dataclasses.replace(filters, since=first, until=last)
        raw = _raw_from_counts(organisations, months, today)
        edges = Q()
        if filters.since is not None and first != filters.since:
            edges |= Q(created_at__lt=day_start(first))
        if filters.until is not None and last != filters.until:
            edges |= Q(created_at__gte=day_start(last + dt.timedelta(days=1)))
        if edges:  # the partial first and last months, from the requests
            raw = _add(raw, _raw_from_requests(qs.filter(edges), today))
        used = "counts+requests" if edges else "counts"
    else:
        raw = _raw_from_requests(qs, today)
        used = "requests"
    by = _finish(raw)
    statuses = {v: n for v, (_, n) in raw.get("status", {}).items()}
    channels = {v: n for v, (_, n) in raw.get("channel", {}).items()}
    total = sum(statuses.values())
    open_count = sum(n for v, n in statuses.items() if v in OPEN_STATUSES)
    resolved = statuses.get(Status.RESOLVED, 0)
    online = sum(n for v, n in channels.items() if v in ONLINE_CHANNELS)
    times_sql, times_params = _times_statement(organisations, filters, qs, source, total)
    with connection.cursor() as cursor:
        cursor.execute(times_sql, times_params)
        rows = cursor.fetchall()
    times = [
        {
            "category": name,
            "target": sla,
            "closed": n,
            "median": round(median, 1),
            "p90": round(p90, 1),
            "within": round(100 * within_n / n, 0),
            "within_n": within_n,
        }
        for whole, name, sla, n, (median, p90), within_n in (r for r in rows if not r[0])
    ]
    overall = [p[0] for whole, _, _, n, p, _ in rows if whole and n]
    closed_n = sum(t["closed"] for t in times)
    if not any(r[0] for r in rows) and closed_n:  # read in order: the middle ones
        overall = [_middle_closed_time(times_params, closed_n)]
    median_days = round(overall[0], 1) if overall else None
    closed = sum(t["closed"] for t in times)
    within_n = sum(t["within_n"] for t in times)
    within = round(100 * within_n / closed, 0) if closed else None
    now = timezone.now()
    ages = {}  # the open requests by age, counted in one query
    for i, (low, high, _label) in enumerate(AGE_BUCKETS):
        bucket = Q(created_at__lte=now - dt.timedelta(days=low))
        if high is not None:
            bucket &= Q(created_at__gt=now - dt.timedelta(days=high))
        ages[f"age{i}"] = Count("created_at", filter=bucket)
    # created_at (never null), not the id: every column read is in the partial index of open
    # requests (tracking.0007), so this is an index-only scan.
    ages["overdue"] = Count("created_at", filter=Q(due_at__lt=now))
    aged = qs.filter(status__in=OPEN_STATUSES).aggregate(**ages)
    backlog = [(str(label), aged[f"age{i}"]) for i, (_, _, label) in enumerate(AGE_BUCKETS)]
    return Dashboard(
        total=total,
        open=open_count,
        resolved=resolved,
        resolution_rate=round(100 * resolved / total, 0) if total else None,
        median_days=median_days,
        overdue=aged["overdue"],
        closed_within_target=within,
        by_status=by.get("status", []),
        by_category=by.get("category", []),
        by_service=by.get("service", []),
        by_commune=by.get("commune", []),
        by_channel=by.get("channel", []),
        by_month=by.get("month", []),
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
        source=used,
    )


CELL_BASE_M = 25.0  # level 0; level L is 25 m × 2^L (stats.0002)
MAX_LEVEL = 7
MIN_MAINTAINED_LEVEL = 3  # finer cells (small viewports) are counted from the points
MAX_CELLS = 4096  # a viewport too large for its zoom gets larger cells, never more than this


def heat_level(zoom: int, bbox=None) -> int:
    """The grid level for a map zoom (cells of roughly 30 screen pixels), raised until the
    viewport holds at most MAX_CELLS cells: a huge bbox at a fine zoom is not a way to make
    the server snap every point."""
    level = max(0, min(MAX_LEVEL, 17 - zoom))
    if bbox is None:
        return level
    mid = math.radians((bbox.miny + bbox.maxy) / 2)
    width = (bbox.maxx - bbox.minx) * 111_320 * math.cos(mid)
    height = (bbox.maxy - bbox.miny) * 110_574
    while level < MAX_LEVEL:
        size = CELL_BASE_M * 2**level
        if (width / size + 1) * (height / size + 1) <= MAX_CELLS:
            break
        level += 1
    return level


_BOUNDS = """
WITH env AS (
    SELECT ST_Transform(ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326), 2154) AS g
), b AS (
    SELECT env.g, floor(ST_XMin(g) / %(size)s)::int AS x0, floor(ST_YMin(g) / %(size)s)::int AS y0,
           floor(ST_XMax(g) / %(size)s)::int AS x1, floor(ST_YMax(g) / %(size)s)::int AS y1
    FROM env
)"""

# The aggregates count whole months: the period is [m0, m1] (None: open) and the second
# period of a comparison [c0, c1] (%(compare)s). The requests are read with instants instead:
# [a0, a1) and [b0, b1), whole months for the heatmaps, local days for the commune table.
_IN_A = (
    "(%(m0)s::date IS NULL OR {m} >= %(m0)s::date)"
    " AND (%(m1)s::date IS NULL OR {m} <= %(m1)s::date)"
)
_IN_B = "%(compare)s AND {m} >= %(c0)s::date AND {m} <= %(c1)s::date"
_AT_A = (
    "(%(a0)s::timestamptz IS NULL OR {t} >= %(a0)s::timestamptz)"
    " AND (%(a1)s::timestamptz IS NULL OR {t} < %(a1)s::timestamptz)"
)
_AT_B = "%(compare)s AND {t} >= %(b0)s::timestamptz AND {t} < %(b1)s::timestamptz"

# The filters on the requests' own rows (alias c), shared by every path that reads them. For
# the public, only what the public map shows (stats_is_public, migration stats.0005).
_REQUEST_PREDICATES = (
    """
      AND (cardinality(%(categories)s::bigint[]) = 0 OR c.category_id = ANY(%(categories)s))
      AND (cardinality(%(statuses)s::text[]) = 0 OR c.status = ANY(%(statuses)s))
      AND (cardinality(%(services)s::bigint[]) = 0 OR c.service_id = ANY(%(services)s))
      AND (cardinality(%(channels)s::text[]) = 0 OR c.channel = ANY(%(channels)s))
      AND (cardinality(%(communes)s::text[]) = 0 OR c.commune_id IN (
           SELECT id FROM territory_commune WHERE insee = ANY(%(communes)s)))
      AND (%(all_orgs)s OR c.organisation_id = ANY(%(orgs)s))
      AND (NOT %(public)s OR stats_is_public(c.id))
      AND ("""
    + _AT_A.format(t="c.created_at")
    + ") OR ("
    + _AT_B.format(t="c.created_at")
    + ")"
)

# The requests counted over each period (n, and prev for the compared one), alias c.
_REQUEST_COUNTS = (
    "(count(*) FILTER (WHERE "
    + _AT_A.format(t="c.created_at")
    + "))::int AS n, (count(*) FILTER (WHERE "
    + _AT_B.format(t="c.created_at")
    + "))::int AS prev"
)

# From the maintained aggregates: the rows of one dimension ("all", "public" or one filter),
# read through heatcell_key (stats.0009): one index descent per column of cells in the viewport.
AGGREGATE_CELLS = (
    """, cells AS (
    SELECT h.ix, h.iy,
           COALESCE(sum(h.n) FILTER (WHERE """
    + _IN_A.format(m="h.month")
    + """), 0)::int AS n,
           COALESCE(sum(h.n) FILTER (WHERE """
    + _IN_B.format(m="h.month")
    + """), 0)::int AS prev
    FROM stats_heatcell h, b
    WHERE h.level = %(level)s AND h.dim = %(dim)s
      AND h.value = ANY(%(values)s::text[])
      AND (("""
    + _IN_A.format(m="h.month")
    + ") OR ("
    + _IN_B.format(m="h.month")
    + """))
      AND h.ix = ANY(ARRAY(SELECT generate_series(b.x0, b.x1)))
      AND h.iy BETWEEN b.y0 AND b.y1
    GROUP BY h.ix, h.iy
    HAVING sum(h.n) > 0
)"""
)

# From the points, for fine cells or combined filters (the GiST index narrows to the viewport's
# whole cells, as the aggregates count them).
# The public's cells leave out the reports without a public point (a category about a home), as
# the aggregates do (stats.0006).
POINT_CELLS = (
    """, cells AS (
    SELECT floor(ST_X(c.location) / %(size)s)::int AS ix,
           floor(ST_Y(c.location) / %(size)s)::int AS iy, """
    + _REQUEST_COUNTS
    + """
    FROM tracking_citizenrequest c, b
    WHERE c.location && ST_MakeEnvelope(b.x0 * %(size)s, b.y0 * %(size)s,
                                        (b.x1 + 1) * %(size)s, (b.y1 + 1) * %(size)s, 2154)
      AND floor(ST_X(c.location) / %(size)s)::int BETWEEN b.x0 AND b.x1
      AND floor(ST_Y(c.location) / %(size)s)::int BETWEEN b.y0 AND b.y1
      AND (NOT %(public)s OR c.public_location IS NOT NULL)"""
    + _REQUEST_PREDICATES
    + """
    GROUP BY 1, 2
)"""
)

# Equipment of the category's layers per cell (lines and areas by a point on them).
EQUIPMENT_CELLS = """, equipment AS (
    SELECT floor(ST_X(p) / %(size)s)::int AS ix, floor(ST_Y(p) / %(size)s)::int AS iy,
           count(*)::int AS e
    FROM (SELECT CASE WHEN GeometryType(f.geom) = 'POINT' THEN f.geom
                      ELSE ST_PointOnSurface(f.geom) END AS p
          FROM gis_layers_feature f, b
          WHERE f.layer_id = ANY(%(layers)s) AND f.geom && b.g) q
    GROUP BY 1, 2
), shown AS (
    SELECT cells.*, equipment.e FROM cells LEFT JOIN equipment USING (ix, iy)
)"""
NO_EQUIPMENT = """, shown AS (SELECT cells.*, NULL::int AS e FROM cells)"""

# A cell is shown when no count in it is under k (0 excepted: nothing to single out).
_SHOWN = (
    "(n >= %(k)s OR prev >= %(k)s) AND NOT (n BETWEEN 1 AND %(k)s - 1)"
    " AND NOT (prev BETWEEN 1 AND %(k)s - 1)"
)
_OUTPUT = (
    """
SELECT COALESCE(sum(n) FILTER (WHERE """
    + _SHOWN
    + """), 0)::int,
       count(*) FILTER (WHERE """
    + _SHOWN
    + """)::int,
       count(*) FILTER (WHERE NOT ("""
    + _SHOWN
    + """))::int,
       COALESCE(string_agg(json_build_object(
           'type', 'Feature',
           'geometry', ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(
               ix * %(size)s, iy * %(size)s, (ix + 1) * %(size)s, (iy + 1) * %(size)s, 2154),
               4326), 6)::json,
           'properties', json_strip_nulls(json_build_object('count', n,
               'previous', CASE WHEN %(compare)s THEN prev END,
               'change', CASE WHEN %(compare)s THEN n - prev END,
               'equipment', e,
               'perEquipment', CASE WHEN e > 0 THEN round(n::numeric / e, 3) END)))::text,
           ',' ORDER BY ix, iy) FILTER (WHERE """
    + _SHOWN
    + """), '')
FROM shown
"""
)
HEAT_SQL = _BOUNDS + AGGREGATE_CELLS + NO_EQUIPMENT + _OUTPUT
HEAT_POINTS_SQL = _BOUNDS + POINT_CELLS + NO_EQUIPMENT + _OUTPUT
HEAT_EQUIPMENT_SQL = _BOUNDS + AGGREGATE_CELLS + EQUIPMENT_CELLS + _OUTPUT
HEAT_POINTS_EQUIPMENT_SQL = _BOUNDS + POINT_CELLS + EQUIPMENT_CELLS + _OUTPUT


@dataclass(frozen=True)
class Audience:
    """Whose requests a heatmap counts and how: ``organisations`` (None: all), cells under
    ``k`` withheld, ``public``: only what the public map shows."""

    organisations: frozenset[int] | None
    k: int
    public: bool


def equipment_layers(user, category_ids) -> tuple[int, ...]:
    """The equipment layers of the problems asked for (every problem when none is) that the
    caller may read, for the requests per equipment; ValidationError when there is none."""
    from django.core.exceptions import ValidationError

    from gis_layers.models import Layer

    layers = Layer.objects.filter(layers_filter_for(user))
    if category_ids:
        layers = layers.filter(categories__in=category_ids)
    else:
        layers = layers.filter(categories__isnull=False)
    found = tuple(layers.order_by("pk").values_list("pk", flat=True).distinct())
    if not found:
        raise ValidationError(
            {"normalise": gettext("Ces problèmes ne portent sur aucune couche d'équipements.")}
        )
    return found


@dataclass(frozen=True)
class EquipmentCount:
    ref: str  # the equipment's code (EP-0154)
    layer: str
    count: int


def requests_per_equipment(
    organisations: frozenset[int] | None, *, filters, layers: tuple[int, ...], limit: int = 30
) -> list[EquipmentCount]:
    """The equipment with the most requests among the filters' (any problems), each named
    by its code and its layer: the requests are grouped by the equipment they were made on."""
    from reports.models import Report

    rows = (
        Report.objects.filter(
            stats_scope(organisations) & filters.q(), equipment__layer_id__in=layers
        )
        .values("equipment_id", "equipment__ref", "equipment__layer__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "equipment__layer__name", "equipment__ref")[:limit]
    )
    return [
        EquipmentCount(r["equipment__ref"] or "—", r["equipment__layer__name"], r["n"])
        for r in rows
    ]


def layer_names(layer_ids) -> list[str]:
    """The names of these layers, for a caption (the per-equipment table)."""
    from gis_layers.models import Layer

    return list(
        Layer.objects.filter(pk__in=layer_ids).order_by("name").values_list("name", flat=True)
    )


@dataclass(frozen=True)
class Heatmap:
    level: int
    cell_m: float
    total: int  # requests in the cells shown (the first period when comparing)
    cells: int
    suppressed: int  # cells under k, not shown
    features: str  # comma-separated GeoJSON features
    source: str  # "aggregates" or "points"


def _months(since: dt.date | None, until: dt.date | None) -> tuple[dt.date | None, dt.date | None]:
    return (since.replace(day=1) if since else None, until.replace(day=1) if until else None)


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def _params(filters, audience: Audience, category_ids, compare, *, whole_months: bool) -> dict:
    """The parameters of every statement here: the filters, the audience, both periods as
    months (aggregates) and as instants (requests), whole months or local days."""
    m0, m1 = _months(filters.since, filters.until)
    c0, c1 = _months(*compare) if compare else (None, None)
    if whole_months:
        a0 = day_start(m0) if m0 else None
        a1 = day_start(_next_month(m1)) if m1 else None
        b0, b1 = (day_start(c0), day_start(_next_month(c1))) if compare else (None, None)
    else:
        a0, a1 = filters.bounds()
        second = RequestFilters(since=compare[0], until=compare[1]) if compare else None
        b0, b1 = second.bounds() if second else (None, None)
    organisations = audience.organisations
    return {
        "m0": m0,
        "m1": m1,
        "compare": compare is not None,
        "c0": c0,
        "c1": c1,
        "a0": a0,
        "a1": a1,
        "b0": b0,
        "b1": b1,
        "categories": list(category_ids),
        "statuses": list(filters.statuses),
        "services": list(filters.services),
        "channels": list(filters.channels),
        "communes": list(filters.communes),
        "all_orgs": organisations is None,
        "orgs": sorted(organisations or ()),
        "public": audience.public,
        "k": audience.k,
    }


def _dimension(filters, category_ids, audience: Audience) -> tuple[str, list[str]] | None:
    """The one aggregate dimension answering these filters, or None (read the points)."""
    if filters.channels or filters.communes:
        return None
    organisations = audience.organisations
    if organisations is not None and not organisations:
        return None  # no organisation at all: the points path returns nothing
    used = [
        ("category", [str(c) for c in category_ids]),
        ("status", list(filters.statuses)),
        ("service", [str(s) for s in filters.services]),
        ("organisation", [str(o) for o in sorted(organisations or ())]),
    ]
    used = [(dim, values) for dim, values in used if values]
    if not used:
        return ("public", []) if audience.public else ("all", [])
    if len(used) == 1 and not audience.public:
        return used[0]
    return None


def heatmap(
    bbox,
    *,
    zoom: int,
    filters,
    audience: Audience,
    category_ids=(),
    compare: tuple[dt.date, dt.date] | None = None,
    equipment_layers: tuple[int, ...] = (),
    source: str = "auto",
) -> Heatmap:
    """Counts per grid cell in the viewport, whole months; a cell with a count under k is left
    out (and counted as suppressed). From the maintained aggregates when one dimension answers
    (no filter, or one of category, status, service, or the caller's scope; for the public no
    filter) and the cells are 200 m or more; otherwise from the points. ``compare`` (a second
    period) adds each cell's count over it; ``equipment_layers`` adds the equipment in each
    cell and the requests per equipment."""
    sql, params = heatmap_statement(
        bbox,
        zoom=zoom,
        filters=filters,
        audience=audience,
        category_ids=category_ids,
        compare=compare,
        equipment_layers=equipment_layers,
        source=source,
    )
    # Bound on the server and prepared once per pooled connection (core.db): a map pans and
    # zooms through the same statement with new values.
    with bound_cursor() as cursor:
        cursor.execute(sql, params)
        total, cells, suppressed, features = cursor.fetchone()
    return Heatmap(
        params["level"],
        params["size"],
        total,
        cells,
        suppressed,
        features,
        "aggregates" if sql in (HEAT_SQL, HEAT_EQUIPMENT_SQL) else "points",
    )


def heatmap_statement(
    bbox,
    *,
    zoom,
    filters,
    audience,
    category_ids=(),
    compare=None,
    equipment_layers=(),
    source="auto",
) -> tuple[str, dict]:
    """The statement ``heatmap`` runs and its parameters (the benchmark runs it in psql);
    ``source="points"`` counts the same cells from the points (tests, benchmark)."""
    level = heat_level(zoom, bbox)
    dimension = _dimension(filters, category_ids, audience)
    if dimension is not None and level < MIN_MAINTAINED_LEVEL:
        # street zooms read the finest maintained cells (200 m) instead of snapping every
        # point of the viewport: finer cells hold about one request per month each, so no
        # table of them would be smaller than the points
        level = MIN_MAINTAINED_LEVEL
    params = _params(filters, audience, category_ids, compare, whole_months=True) | {
        "minx": bbox.minx,
        "miny": bbox.miny,
        "maxx": bbox.maxx,
        "maxy": bbox.maxy,
        "size": CELL_BASE_M * 2**level,
        "level": level,
        "dim": dimension[0] if dimension else "",
        # "all" and "public" rows have the value "" (stats.0002, stats.0005)
        "values": (dimension[1] or [""]) if dimension else [],
        "layers": list(equipment_layers),
    }
    use_aggregates = dimension is not None and level >= MIN_MAINTAINED_LEVEL
    use_aggregates = use_aggregates and source != "points"
    if equipment_layers:
        sql = HEAT_EQUIPMENT_SQL if use_aggregates else HEAT_POINTS_EQUIPMENT_SQL
    else:
        sql = HEAT_SQL if use_aggregates else HEAT_POINTS_SQL
    return sql, params


# Requests per commune of the territory, for the map per 1,000 inhabitants and its table: from
# the monthly counts (whole months, no filter but services) or from the requests.
COMMUNE_COUNTS_FROM_MONTHS = (
    """
    SELECT value::int AS commune_id,
           COALESCE(sum(n) FILTER (WHERE """
    + _IN_A.format(m="month")
    + """), 0)::int AS n,
           COALESCE(sum(n) FILTER (WHERE """
    + _IN_B.format(m="month")
    + """), 0)::int AS prev
    FROM stats_monthcount
    WHERE dim = CASE WHEN %(public)s THEN 'public' ELSE 'commune' END AND value <> ''
      AND (%(all_orgs)s OR organisation_id = ANY(%(orgs)s))
      AND (cardinality(%(services)s::int[]) = 0 OR service_id = ANY(%(services)s))
    GROUP BY value
"""
)
COMMUNE_COUNTS_FROM_REQUESTS = (
    """
    SELECT c.commune_id, """
    + _REQUEST_COUNTS
    + """
    FROM tracking_citizenrequest c
    WHERE c.commune_id IS NOT NULL"""
    + _REQUEST_PREDICATES
    + """
    GROUP BY c.commune_id
"""
)
COMMUNE_RATES = """
SELECT t.insee, t.name, t.population, COALESCE(c.n, 0), COALESCE(c.prev, 0), {equipment},
       ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(t.geom, 15), 4326), 5)
FROM territory_commune t
LEFT JOIN ({counts}) c ON c.commune_id = t.id{equipment_join}
WHERE t.epci_id IS NOT NULL
ORDER BY t.name
"""
# Equipment of the problem's layers per commune (lines and areas by a point on them, as the
# heatmap's cells count them), through the communes' subdivided pieces.
COMMUNE_EQUIPMENT = """
LEFT JOIN (
    SELECT part.commune_id, count(*)::int AS e
    FROM (SELECT CASE WHEN GeometryType(f.geom) = 'POINT' THEN f.geom
                      ELSE ST_PointOnSurface(f.geom) END AS p
          FROM gis_layers_feature f WHERE f.layer_id = ANY(%(layers)s)) q
    CROSS JOIN LATERAL (
        SELECT tp.commune_id FROM territory_communepart tp
        WHERE ST_Intersects(tp.geom, q.p) LIMIT 1
    ) part
    GROUP BY part.commune_id
) e ON e.commune_id = t.id"""


@dataclass(frozen=True)
class CommuneRate:
    insee: str
    name: str
    population: int | None
    count: int | None  # None: under k, not shown
    previous: int | None
    per_1000: float | None
    geometry: str  # GeoJSON, WGS 84
    equipment: int | None = None  # of the problem's layers, when asked
    per_equipment: float | None = None

    @property
    def change(self) -> int | None:
        if self.count is None or self.previous is None:
            return None
        return self.count - self.previous


def _whole_months(since: dt.date | None, until: dt.date | None) -> bool:
    return (since is None or since.day == 1) and (
        until is None or (until + dt.timedelta(days=1)).day == 1
    )


def _commune_counts_mixed(filters, audience: Audience, inside) -> tuple[str, dict]:
    """The counts per commune of a period cut inside months: its whole months ``inside`` (first
    and last day) from the monthly counts, its partial first and last months from the requests
    (a period from the 15th over a year: 145 ms instead of about 430 ms on a million requests,
    bench/stats_sweep.py --only-extra)."""
    first, last = inside
    months = dataclasses.replace(filters, since=first, until=last)
    params = _params(months, audience, (), None, whole_months=True)
    a0, a1 = filters.bounds()
    parts = [COMMUNE_COUNTS_FROM_MONTHS]
    edges = []
    if filters.since is not None and filters.since != first:
        edges.append((a0, day_start(first)))
    if filters.until is not None and filters.until != last:
        edges.append((day_start(last + dt.timedelta(days=1)), a1))
    for i, (start, end) in enumerate(edges):
        parts.append(
            COMMUNE_COUNTS_FROM_REQUESTS.replace("%(a0)s", f"%(e{i}_a0)s").replace(
                "%(a1)s", f"%(e{i}_a1)s"
            )
        )
        params[f"e{i}_a0"], params[f"e{i}_a1"] = start, end
    union = "\n    UNION ALL\n".join(parts)
    sql = f"""
    SELECT commune_id, sum(n)::int AS n, sum(prev)::int AS prev
    FROM ({union}) AS parts
    GROUP BY commune_id
"""
    return sql, params


def commune_rates(
    *,
    filters,
    audience: Audience,
    category_ids=(),
    compare: tuple[dt.date, dt.date] | None = None,
    equipment_layers: tuple[int, ...] = (),
    source: str = "auto",
) -> list[CommuneRate]:
    """Requests per commune of the territory and per 1,000 inhabitants (municipal population),
    over exactly the filters' period (and the compared one); a count under k (but not 0) is
    withheld with its rate. From the monthly counts when they answer (services and scope
    only): whole months from the counts, and for a period cut inside months (with no compared
    one) its partial first and last months from the requests, as ``dashboard()`` does;
    otherwise, or with ``source="requests"``, from the requests. ``equipment_layers`` (see
    ``equipment_layers()``) adds each commune's equipment of those layers and the requests per
    equipment: the table beside the per-equipment heatmap."""
    counts_answer = source != "requests" and (
        not (category_ids or filters.statuses or filters.channels or filters.communes)
        and (audience.organisations is None or bool(audience.organisations))
    )
    by_months = (
        counts_answer
        and _whole_months(filters.since, filters.until)
        and (compare is None or _whole_months(*compare))
    )
    inside = _whole_months_within(filters.since, filters.until)
    if counts_answer and not by_months and compare is None and inside is not None:
        counts, params = _commune_counts_mixed(filters, audience, inside)
    else:
        params = _params(filters, audience, category_ids, compare, whole_months=by_months)
        counts = COMMUNE_COUNTS_FROM_MONTHS if by_months else COMMUNE_COUNTS_FROM_REQUESTS
    params["layers"] = list(equipment_layers)
    sql = (
        COMMUNE_RATES.replace("{counts}", counts)
        .replace("{equipment}", "COALESCE(e.e, 0)" if equipment_layers else "NULL::int")
        .replace("{equipment_join}", COMMUNE_EQUIPMENT if equipment_layers else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()

    def shown(n: int) -> int | None:
        return None if 0 < n < audience.k else n

    out = []
    for insee, name, population, n, prev, equipment, geometry in rows:
        count = shown(n)
        rate = round(1000 * n / population, 2) if population and count is not None else None
        previous = shown(prev) if compare else None
        per_equipment = round(n / equipment, 3) if equipment and count is not None else None
        out.append(
            CommuneRate(
                insee, name, population, count, previous, rate, geometry, equipment, per_equipment
            )
        )
    return out


# --- Public resolution rates and delays (the public statistics page) --------------------------

RESOLVED_WITHIN_DAYS = 30
# Closed as the duplicate of another report, or sent to another body: not ours to resolve.
NOT_OURS = (Status.DUPLICATE, Status.TRANSFERRED_OUT)

# Over the reports the public may see (as the open data: neither hidden nor held for
# moderation; procedures never), per commune, per problem and in all: how many, how many
# resolved, the median days from report to resolution (exact), and, among the reports made at
# least RESOLVED_WITHIN_DAYS days ago, how many were resolved within that many days.
PUBLIC_RATES_SQL = """
WITH r AS (
    SELECT c.commune_id, c.category_id,
           CASE WHEN c.status = %(resolved)s AND c.closed_at IS NOT NULL
                THEN date_part('epoch', c.closed_at - c.created_at) / 86400.0 END AS d,
           c.created_at <= %(cutoff)s AS old_enough
    FROM tracking_citizenrequest c
    JOIN reports_report p ON p.citizenrequest_ptr_id = c.id
    WHERE NOT p.is_hidden AND NOT p.moderation_pending
      AND NOT (c.status = ANY(%(not_ours)s))
), g AS (
    SELECT GROUPING(commune_id) AS by_category, GROUPING(category_id) AS by_commune,
           commune_id, category_id, count(*)::int AS n, count(d)::int AS resolved,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS median,
           (count(*) FILTER (WHERE old_enough))::int AS eligible,
           (count(*) FILTER (WHERE old_enough AND d <= %(days)s))::int AS within
    FROM r
    GROUP BY GROUPING SETS ((commune_id), (category_id), ())
)
SELECT CASE WHEN g.by_category = 0 AND g.by_commune = 1 THEN 'commune'
            WHEN g.by_commune = 0 AND g.by_category = 1 THEN 'category' ELSE 'all' END,
       COALESCE(t.name, k.name, ''), g.n, g.resolved, g.median, g.eligible, g.within
FROM g
LEFT JOIN territory_commune t ON g.by_category = 0 AND g.by_commune = 1 AND t.id = g.commune_id
LEFT JOIN routing_category k ON g.by_commune = 0 AND g.by_category = 1 AND k.id = g.category_id
WHERE (g.by_category = 1 AND g.by_commune = 1)
   OR (g.by_commune = 1 AND g.commune_id IS NOT NULL)
   OR (g.by_category = 1 AND g.category_id IS NOT NULL)
ORDER BY 2
"""


@dataclass(frozen=True)
class ResolutionRate:
    """One line of the public resolution table; every figure None when ``reports`` is under k
    (then nothing is told about the group)."""

    name: str
    reports: int | None
    resolved: int | None = None
    rate: float | None = None  # percent of the reports resolved
    median_days: float | None = None  # from report to resolution, over the resolved ones
    eligible: int | None = None  # made at least RESOLVED_WITHIN_DAYS days ago
    within: float | None = None  # percent of those resolved within RESOLVED_WITHIN_DAYS days


@dataclass(frozen=True)
class PublicRates:
    total: ResolutionRate
    by_commune: list[ResolutionRate]
    by_category: list[ResolutionRate]


def public_resolution_rates(*, k: int, now: dt.datetime | None = None) -> PublicRates:
    """Resolution rate and delays of the public reports, in all, per commune and per problem,
    computed by PostgreSQL from the stored requests in one statement. Same public rules as the
    open data and the public map: hidden and held reports never count; duplicates and reports
    sent to another body are left out (not ours to resolve). A group of fewer than ``k``
    reports is withheld whole (k-anonymity, as the public heatmap's cells)."""
    now = now or timezone.now()
    params = {
        "resolved": Status.RESOLVED,
        "not_ours": [str(s) for s in NOT_OURS],
        "cutoff": now - dt.timedelta(days=RESOLVED_WITHIN_DAYS),
        "days": RESOLVED_WITHIN_DAYS,
    }
    with connection.cursor() as cursor:
        cursor.execute(PUBLIC_RATES_SQL, params)
        rows = cursor.fetchall()

    def line(name: str, n: int, resolved: int, median, eligible: int, within: int):
        if n < k:
            return ResolutionRate(name, None)
        return ResolutionRate(
            name,
            n,
            resolved,
            round(100 * resolved / n, 1),
            round(median, 1) if median is not None else None,
            eligible,
            round(100 * within / eligible, 1) if eligible else None,
        )

    total = ResolutionRate("", None)
    by_commune, by_category = [], []
    for kind, name, *figures in rows:
        if kind == "all":
            total = line(name, *figures)
        else:
            (by_commune if kind == "commune" else by_category).append(line(name, *figures))
    return PublicRates(total=total, by_commune=by_commune, by_category=by_category)
