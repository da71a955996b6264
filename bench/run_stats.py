"""Statistics benchmark over 1,000,000 requests: the whole-CAHC heatmap and the dashboard.

Run after ``bench/setup_bench.py`` (same database, ``libercourt_grc_bench``)::

    .venv/bin/python bench/run_stats.py

The requests are generated once in SQL (deterministic: ``hashint8extended`` of the series
number), clustered like real ones (60 % around 20 centres in the CAHC's towns, sigma ≈ 400 m,
40 % spread over the CAHC's bounding box), over ten years, with categories, statuses, services
and organisations drawn from the demo's. They are inserted with the aggregate triggers off,
then ``stats_heat_rebuild()`` builds the aggregates once (as the migration does).

Measured side by side, interleaved, on the whole-CAHC viewport at zoom 11 (1.6 km cells):
- ours: ``GET /api/stats/heatmap`` through gunicorn (1 sync worker, production settings),
  as the public sees it (cells of at least 5);
- its SQL floor: the statement of ``stats.selectors.heatmap`` in a warm psql session, and the
  same statement prepared once in that session (``PREPARE``/``EXECUTE``), as the endpoint runs
  it (core.db.bound_cursor);
- raw: the same cells (same grid, same k) computed on the fly from the 1,000,000 points, in
  the same psql session, in a loop of its own interleaved with the endpoint again: a second of
  work on both cores, run among the others, disturbed whatever came after it (one run gave
  1.33x against the floor that way, the others 1.11-1.17x).
Two more heatmaps through HTTP (a comparison of two periods, communes per 1,000 inhabitants),
in the first loop.
And the CAHC dashboard in-process (``stats.selectors.dashboard``): from the monthly counts
against the same figures counted from the requests, over the default twelve months and all
ten years; then the page itself against its SQL budget.
"""

from __future__ import annotations

import http.client
import re
import statistics
import time

from benchlib import CAHC_BBOX, RESULTS, ROOT, django_env, django_setup
from run_layers import PRODUCTION_ENV, PsqlSession, Series, Server, free_port, measure

COUNT = 1_000_000
BBOX = ",".join(f"{v:.5f}" for v in CAHC_BBOX)
ZOOM = 11

GENERATE = """
WITH cats AS (SELECT array_agg(id ORDER BY id) AS ids FROM routing_category),
svcs AS (
    SELECT organisation_id, array_agg(id ORDER BY id) AS ids
    FROM organisations_service WHERE is_active GROUP BY organisation_id
),
cahc AS (SELECT id FROM organisations_organisation WHERE kind = 'epci' ORDER BY id LIMIT 1),
candidates AS (
    SELECT n, created,
           ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 2154) AS location
    FROM (
        SELECT n,
               timestamptz '2016-11-28'
                   + (abs(hashint8extended(n, 6)) %% 315360000) * interval '1 second' AS created,
               CASE WHEN abs(hashint8extended(n, 7)) %% 10 < 6
                    THEN cx + 0.0056 * sqrt(-2 * ln(greatest(u1, 1e-9))) * cos(2 * pi() * u2)
                    ELSE %(minx)s + u1 * (%(maxx)s - %(minx)s) END AS lon,
               CASE WHEN abs(hashint8extended(n, 7)) %% 10 < 6
                    THEN cy + 0.0036 * sqrt(-2 * ln(greatest(u1, 1e-9))) * sin(2 * pi() * u2)
                    ELSE %(miny)s + u2 * (%(maxy)s - %(miny)s) END AS lat
        FROM (
            SELECT n,
                   (abs(hashint8extended(n, 8)) %% 1000000) / 1000000.0 AS u1,
                   (abs(hashint8extended(n, 9)) %% 1000000) / 1000000.0 AS u2,
                   %(minx)s + ((abs(hashint8extended(n %% 20, 10)) %% 1000) / 1000.0)
                       * (%(maxx)s - %(minx)s) AS cx,
                   %(miny)s + ((abs(hashint8extended(n %% 20, 11)) %% 1000) / 1000.0)
                       * (%(maxy)s - %(miny)s) AS cy
            FROM generate_series(1, %(candidates)s) AS n
        ) base
    ) p
),
placed AS (  -- inside a CAHC commune only (the portal refuses the others), the first 1M
    SELECT c.*, part.commune_id
    FROM candidates c
    CROSS JOIN LATERAL (
        SELECT t.commune_id FROM territory_communepart t
        WHERE ST_Intersects(t.geom, c.location) LIMIT 1
    ) part
    ORDER BY c.n LIMIT %(count)s
),
routed AS (  -- two in three to the commune's town hall when on board, else the CAHC
    SELECT p.*,
           CASE WHEN o.id IS NOT NULL AND abs(hashint8extended(p.n, 3)) %% 3 <> 0
                THEN o.id ELSE (SELECT id FROM cahc) END AS organisation_id,
           (60 * ((abs(hashint8extended(p.n, 4)) %% 1000) / 1000.0) ^ 3)
               * interval '1 day' AS duration
    FROM placed p
    LEFT JOIN (  -- a town hall that has services on the portal
        SELECT o.id, o.commune_id FROM organisations_organisation o
        WHERE EXISTS (SELECT 1 FROM svcs WHERE svcs.organisation_id = o.id)
    ) o ON o.commune_id = p.commune_id
)
INSERT INTO tracking_citizenrequest
    (kind, reference, access_key, channel, status, status_reason, author_id, contact_name,
     contact_email, contact_phone, category_id, location, commune_id, organisation_id,
     service_id, routing_rule_id, created_at, updated_at, due_at, closed_at)
SELECT 'report', 'B' || lpad(r.n::text, 9, '0'), md5(r.n::text),
       (ARRAY['web','web','web','api'])[1 + abs(hashint8extended(r.n, 1)) %% 4],
       st.status, '', NULL, '', '', '',
       cats.ids[1 + abs(hashint8extended(r.n, 2)) %% cardinality(cats.ids)],
       r.location, r.commune_id, r.organisation_id,
       s.ids[1 + abs(hashint8extended(r.n, 5)) %% cardinality(s.ids)], NULL,
       r.created, r.created, r.created + interval '14 days',
       CASE WHEN st.status IN ('resolved', 'closed') THEN r.created + r.duration END
FROM routed r
CROSS JOIN cats
JOIN svcs s ON s.organisation_id = r.organisation_id
CROSS JOIN LATERAL (
    SELECT CASE  -- closed once its processing time has passed (but one in fifty forgotten)
        WHEN r.created + r.duration < timestamptz '2026-11-28'
             AND abs(hashint8extended(r.n, 12)) %% 50 <> 0
        THEN (ARRAY['resolved','resolved','resolved','resolved','resolved','resolved',
                    'closed'])[1 + abs(hashint8extended(r.n, 13)) %% 7]
        ELSE (ARRAY['received','planned','in_progress'])[1 + abs(hashint8extended(r.n, 13)) %% 3]
    END AS status
) st
"""

TRIGGERS = (  # off for the bulk delete and insert; the aggregates are rebuilt after
    ("tracking_citizenrequest", "stats_heat_insert_delete"),
    ("tracking_citizenrequest", "stats_month_insert_delete"),
    ("reports_report", "stats_public_insert_delete"),
    ("tracking_citizenrequest", "stats_closed_insert_delete"),
)

# Each request is a report (as the public map shows them), one in a hundred hidden.
REPORTS = """
INSERT INTO reports_report (citizenrequest_ptr_id, description, equipment_label, address_label,
                            answers, is_hidden, moderation_pending)
SELECT c.id, '', '', '', '{}', abs(hashint8extended(c.id, 14)) %% 100 = 0, false
FROM tracking_citizenrequest c
WHERE c.reference LIKE 'B%%'
  AND NOT EXISTS (SELECT 1 FROM reports_report r WHERE r.citizenrequest_ptr_id = c.id)
"""

RAW_SQL = """
WITH env AS (SELECT ST_Transform(ST_MakeEnvelope({bbox}, 4326), 2154) AS g),
cells AS (
    SELECT floor(ST_X(c.location) / {size})::int AS ix, floor(ST_Y(c.location) / {size})::int AS iy,
           count(*)::int AS n
    FROM tracking_citizenrequest c
    JOIN reports_report r ON r.citizenrequest_ptr_id = c.id AND NOT r.is_hidden, env
    WHERE c.location && env.g
    GROUP BY 1, 2
)
SELECT COALESCE(sum(n) FILTER (WHERE n >= 5), 0), count(*) FILTER (WHERE n >= 5),
       COALESCE(string_agg(json_build_object('type', 'Feature',
           'geometry', ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(ix * {size}, iy * {size},
               (ix + 1) * {size}, (iy + 1) * {size}, 2154), 4326), 6)::json,
           'properties', json_build_object('count', n))::text, ',' ORDER BY ix, iy)
           FILTER (WHERE n >= 5), '')
FROM cells
"""


def _triggers(cursor, state: str) -> None:
    for table, trigger in TRIGGERS:
        cursor.execute(f"ALTER TABLE {table} {state} TRIGGER {trigger}")


def generate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(r.citizenrequest_ptr_id) FROM tracking_citizenrequest c"
            " LEFT JOIN reports_report r ON r.citizenrequest_ptr_id = c.id"
            " WHERE c.reference LIKE 'B%%' AND c.commune_id IS NOT NULL"
        )
        requests, reports = cursor.fetchone()
        if requests >= COUNT and reports >= COUNT:
            return
        _triggers(cursor, "DISABLE")
        if requests < COUNT:
            print("[stats] generating 1,000,000 requests (triggers off) …", flush=True)
            cursor.execute(
                "DELETE FROM reports_report WHERE citizenrequest_ptr_id IN"
                " (SELECT id FROM tracking_citizenrequest WHERE reference LIKE 'B%%')"
            )
            cursor.execute("DELETE FROM tracking_citizenrequest WHERE reference LIKE 'B%%'")
            minx, miny, maxx, maxy = CAHC_BBOX
            cursor.execute(
                GENERATE,
                {
                    "minx": minx,
                    "miny": miny,
                    "maxx": maxx,
                    "maxy": maxy,
                    "count": COUNT,
                    "candidates": COUNT * 2,
                },
            )
            cursor.execute(
                "SELECT count(*) FROM tracking_citizenrequest WHERE reference LIKE 'B%%'"
            )
            made = cursor.fetchone()[0]
            assert made == COUNT, f"{made} requests generated, not {COUNT}: more candidates needed"
        cursor.execute(REPORTS, {})
        _triggers(cursor, "ENABLE")
        for rebuild in ("stats_heat_rebuild", "stats_month_rebuild", "stats_closed_rebuild"):
            started = time.perf_counter()
            cursor.execute(f"SELECT {rebuild}()")
            print(
                f"[stats] {rebuild}: {cursor.fetchone()[0]} rows in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
    import psycopg
    from benchlib import conninfo

    with psycopg.connect(conninfo(), autocommit=True) as conn:
        for table in (
            "tracking_citizenrequest",
            "reports_report",
            "stats_heatcell",
            "stats_monthcount",
            "stats_closedtime",
        ):
            conn.execute(f"VACUUM ANALYZE {table}")


REPS = 40  # interleaved repetitions of the heatmaps and their floors
RAW_REPS = 7  # of the raw aggregation (about a second each), interleaved with the endpoint


def paired(ours: Series, other: Series) -> float:
    """The median of the per-repetition ratios (both sides measured back to back)."""
    return statistics.median(a / b for a, b in zip(ours.samples, other.samples, strict=True))


def prepared_in_psql(sql: str, params: dict, connection, *, name: str = "heat") -> tuple[str, str]:
    """The endpoint's statement as psql can prepare it (``PREPARE name AS ... $n``) and the
    ``EXECUTE`` with the same values: the endpoint runs it prepared (core.db.bound_cursor), so
    this is its floor with parsing paid once, as the endpoint pays it."""
    names: list[str] = []

    def placeholder(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", placeholder, sql).replace("%%", "%")
    values = ", ".join(connection.ops.compose_sql("%s", [params[name]]) for name in names)
    return f"PREPARE {name} AS {text}", f"EXECUTE {name}({values})"


# The generated requests end on 2026-11-28; the heatmap compares the twelve months before it
# with the twelve before those. The dashboard is measured over its default period of the day
# it runs (the same as the page measured after it).
COMPARE = "&since=2025-12-01&compare_since=2024-12-01&compare_until=2025-11-30"
DASHBOARD_BUDGET_MS = 300  # the default CAHC dashboard's SQL, all queries
DASHBOARD_BUDGET_QUERIES = 16  # fixed: none grows with the data (no N+1)


def measure_dashboard(selectors, RequestFilters, connection) -> list[str]:
    """The CAHC dashboard in-process: from the monthly counts against the same figures counted
    from the requests, over the default twelve months and over all ten years; then the whole
    page (every query, rendering) as the operator sees it by default."""

    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accounts.models import User

    periods = {
        "last 12 months (default)": RequestFilters(
            since=selectors.first_of_12_months(timezone.localdate())
        ),
        "all ten years": RequestFilters(),
    }
    series, queries = {}, {}
    pairs = []
    for label, filters in periods.items():
        for source in ("counts", "requests"):
            key = (label, source)
            series[key] = Series(f"dashboard {label}, {source}", "selectors.dashboard")

            def run(filters=filters, source=source, key=key) -> None:
                with CaptureQueriesContext(connection) as captured:
                    selectors.dashboard(None, filters=filters, source=source)
                queries[key] = len(captured)

            pairs.append((series[key], run))
    measure(pairs, reps=5, warmup=1)

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.filter(is_superuser=True).order_by("pk").first())
    page_sql, page_total, page_queries = [], [], 0
    for _ in range(6):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/statistiques/")
            page_total.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        page_sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        page_queries = len(captured)
    page_sql_ms = sorted(page_sql[1:])[2]
    page_ms = sorted(page_total[1:])[2]
    lines = [
        f"CAHC dashboard over the {COUNT:,} requests (in-process, 5 interleaved runs, median):",
        "",
        "| period | ours: monthly counts (ms) | queries | raw: counted from the requests (ms)"
        " | queries | raw ÷ ours |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label in periods:
        ours, raw = series[(label, "counts")], series[(label, "requests")]
        lines.append(
            f"| {label} | {ours.median:.0f} | {queries[(label, 'counts')]} | {raw.median:.0f} | "
            f"{queries[(label, 'requests')]} | {raw.median / ours.median:.1f}× |"
        )
    verdict = (
        "within"
        if page_sql_ms <= DASHBOARD_BUDGET_MS and page_queries <= DASHBOARD_BUDGET_QUERIES
        else "OVER"
    )
    lines += [
        "",
        f"- the page `/statistiques/` as the operator opens it (last 12 months, CAHC): "
        f"{page_ms:.0f} ms in-process, of which **{page_sql_ms:.0f} ms of SQL in "
        f"{page_queries} queries**: {verdict} the budget of {DASHBOARD_BUDGET_MS} ms and "
        f"{DASHBOARD_BUDGET_QUERIES} queries",
    ]
    return lines


def main() -> None:
    django_setup("config.settings.dev", DEBUG="1")
    from django.db import connection

    from core.demo import demo_data_load
    from stats import selectors
    from tracking.filters import RequestFilters

    demo_data_load(with_layers=False)
    generate()
    from gis_layers.selectors import BBox

    # the statement the endpoint runs for the public (no filter, k = 5), composed for psql
    sql, params = selectors.heatmap_statement(
        BBox(*CAHC_BBOX),
        zoom=ZOOM,
        filters=RequestFilters(),
        audience=selectors.Audience(None, 5, public=True),
    )
    size = params["size"]
    connection.ensure_connection()
    floor_sql = connection.ops.compose_sql(sql, params)
    prepare_sql, execute_sql = prepared_in_psql(sql, params, connection)
    raw_sql = RAW_SQL.format(bbox=BBOX, size=size)

    env = django_env("config.settings.production") | PRODUCTION_ENV
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    probe = f"/api/stats/heatmap?bbox={BBOX}&zoom=14"
    server = Server("stats", [gunicorn, "config.wsgi:application"], env, ROOT, probe, free_port())
    server.wait_ready()
    path = f"/api/stats/heatmap?bbox={BBOX}&zoom={ZOOM}"
    size_bytes = 0

    def ours() -> None:
        nonlocal size_bytes
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        conn.request("GET", path)
        body = conn.getresponse().read()
        conn.close()
        size_bytes = len(body)

    def get(url: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        conn.request("GET", url)
        conn.getresponse().read()
        conn.close()

    compare_s = Series(
        "GET /api/stats/heatmap, last 12 months compared with the 12 before", "aggregates"
    )
    communes_s = Series("GET /api/stats/heatmap?normalise=inhabitants (14 communes)", "counts")
    session = PsqlSession()
    ours_s = Series("ours: GET /api/stats/heatmap (HTTP)", f"zoom {ZOOM}, whole CAHC, k=5")
    floor_s = Series("its SQL (aggregates), warm psql", "the selector's statement")
    prepared_s = Series(
        "its SQL prepared in psql (PREPARE once, EXECUTE)", "as the endpoint runs it"
    )
    raw_s = Series("raw: same cells from the points, warm psql", "ST_X/ST_Y snapped, GROUP BY")
    session.run(prepare_sql)
    try:
        measure(
            [
                (ours_s, ours),
                (floor_s, lambda: session.run(floor_sql)),
                (prepared_s, lambda: session.run(execute_sql)),
                (compare_s, lambda: get(path + COMPARE)),
                (communes_s, lambda: get(path + "&normalise=inhabitants")),
            ],
            reps=REPS,
            warmup=2,
        )
        # The raw aggregation (a second of work on both cores) in its own loop, interleaved
        # with the endpoint again: run among the others it would disturb what follows it.
        ours_again = Series("ours, beside the raw aggregation", "")
        measure(
            [(ours_again, ours), (raw_s, lambda: session.run(raw_sql))], reps=RAW_REPS, warmup=1
        )
    finally:
        session.close()
        server.stop()

    dashboard_lines = measure_dashboard(selectors, RequestFilters, connection)
    lines = [
        f"Statistics benchmark, {COUNT:,} requests, whole-CAHC viewport at zoom {ZOOM} "
        f"({size:.0f} m cells), {REPS} repetitions interleaved ({RAW_REPS} for the raw "
        "aggregation, in a loop of its own with the endpoint):",
        "",
        "| measured | median (ms) | p95 (ms) |",
        "|---|---:|---:|",
        *[
            f"| {s.name} | {s.median:.1f} | {s.p95:.1f} |"
            for s in (ours_s, floor_s, prepared_s, raw_s, compare_s, communes_s)
        ],
        "",
        f"- endpoint ÷ raw aggregation: **{ours_again.median / raw_s.median:.3f}** (target ≤ "
        f"0.05, i.e. {raw_s.median / ours_again.median:.0f}× faster; {RAW_REPS} runs of each, "
        "interleaved)",
        f"- endpoint ÷ its SQL floor: **{ours_s.median / floor_s.median:.2f}×** (target ≤ 1.2; "
        f"median of the paired ratios {paired(ours_s, floor_s):.2f}×)",
        f"- endpoint ÷ the same SQL prepared in psql: **{ours_s.median / prepared_s.median:.2f}×** "
        f"(median of the paired ratios {paired(ours_s, prepared_s):.2f}×)",
        f"- payload: **{size_bytes / 1024:.0f} KB** (target ≤ 300 KB)",
        "",
        *dashboard_lines,
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stats.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
