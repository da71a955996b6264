"""Statistics sweep over 1,000,000 requests: the heatmap at every zoom, the dashboard over every
period, each against its best SQL and against counting from the request rows.

Run after ``bench/setup_bench.py`` and the data of ``bench/run_stats.py`` (same database;
``BENCH_DB`` names another one)::

    BENCH_DB=grc_bench8 .venv/bin/python bench/stats_sweep.py [--reps 5]

Heatmap (viewport of 1280 × 900 px centred on Libercourt's town hall, zooms 8 to 17, all time,
no filter), for the public (anonymous, k = 5) and for staff (the operator's session):
- endpoint: ``GET /api/stats/heatmap`` through gunicorn (1 sync worker, production settings);
- best SQL: the selector's own statement (``heatmap_statement``) prepared once in a warm psql
  session and executed (as the endpoint runs it, core.db.bound_cursor);
- raw: the same grid counted on the fly from the request rows in that psql session (GiST index
  on the viewport, visible reports only for the public), the naive ``GROUP BY``.
Dashboard (the operator's, in-process, ``stats.selectors.dashboard``): periods of one month to
ten years ending with the last whole month, the page's own path (``source="auto"``) against the
same figures counted from the request rows (``source="requests"``), and the whole page
(``/statistiques/``, every query and the rendering). ``--extra`` adds (``--only-extra``: only)
a town's staff member (a scoped organisation), a problem filter and a period cut mid-month;
``--out`` writes the table elsewhere than the results.
Each row: median of ``--reps`` interleaved runs after one warm-up. Prints the whole table and
writes it to ``bench/results/stats_sweep.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import http.client
import math
import re
import time
from pathlib import Path

from benchlib import RESULTS, ROOT, django_env, django_setup
from run_layers import PRODUCTION_ENV, PsqlSession, Series, Server, free_port, measure
from run_stats import prepared_in_psql

CENTRE = (3.0105, 50.4804)  # Libercourt's town hall (lon, lat)
WIDTH_PX, HEIGHT_PX = 1280, 900
ZOOMS = range(8, 18)
PERIODS = [(1, "1 month"), (3, "3 months"), (6, "6 months"), (12, "12 months")]
PERIODS += [(24, "2 years"), (60, "5 years"), (120, "10 years")]
RAW_SQL = """
WITH env AS (SELECT ST_Transform(ST_MakeEnvelope({bbox}, 4326), 2154) AS g),
cells AS (
    SELECT floor(ST_X(c.location) / {size})::int AS ix, floor(ST_Y(c.location) / {size})::int AS iy,
           count(*)::int AS n
    FROM tracking_citizenrequest c {join}, env
    WHERE c.location && env.g {public}
    GROUP BY 1, 2
)
SELECT COALESCE(sum(n) FILTER (WHERE n >= {k}), 0), count(*) FILTER (WHERE n >= {k}),
       COALESCE(string_agg(json_build_object('type', 'Feature',
           'geometry', ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(ix * {size}, iy * {size},
               (ix + 1) * {size}, (iy + 1) * {size}, 2154), 4326), 6)::json,
           'properties', json_build_object('count', n))::text, ',' ORDER BY ix, iy)
           FILTER (WHERE n >= {k}), '')
FROM cells
"""


def viewport(zoom: int) -> tuple[float, float, float, float]:
    """The bbox (WGS84) a 1280 × 900 px map shows at this zoom around the centre."""
    lon, lat = CENTRE
    degrees_per_px = 360 / (256 * 2**zoom)
    half_w = WIDTH_PX / 2 * degrees_per_px
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    half_h = HEIGHT_PX / 2 * degrees_per_px * math.pi / 180
    south = math.degrees(2 * math.atan(math.exp(y - half_h)) - math.pi / 2)
    north = math.degrees(2 * math.atan(math.exp(y + half_h)) - math.pi / 2)
    return (lon - half_w, south, lon + half_w, north)


def get(port: int, path: str, cookie: str | None) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Cookie": cookie} if cookie else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status}")
    return body


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "—"


def heatmap_sweep(reps: int, superuser) -> list[str]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    from gis_layers.selectors import BBox
    from stats import selectors
    from tracking.filters import RequestFilters

    session = SessionStore()
    session[SESSION_KEY] = str(superuser.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = superuser.get_session_auth_hash()
    session.create()
    cookie = f"sessionid={session.session_key}"

    env = django_env("config.settings.production") | PRODUCTION_ENV
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    probe = "/api/stats/heatmap?bbox=3.0,50.47,3.02,50.49&zoom=14"
    server = Server("stats", [gunicorn, "config.wsgi:application"], env, ROOT, probe, free_port())
    server.wait_ready()
    psql = PsqlSession()
    connection.ensure_connection()
    rows = []
    try:
        for zoom in ZOOMS:
            box = viewport(zoom)
            bbox = ",".join(f"{v:.6f}" for v in box)
            path = f"/api/stats/heatmap?bbox={bbox}&zoom={zoom}"
            for who, audience, auth in (
                ("public", selectors.Audience(None, 5, public=True), None),
                ("staff", selectors.Audience(None, 1, public=False), cookie),
            ):
                sql, params = selectors.heatmap_statement(
                    BBox(*box), zoom=zoom, filters=RequestFilters(), audience=audience
                )
                name = f"heat_{who}_{zoom}"
                prepare_sql, execute_sql = prepared_in_psql(sql, params, connection, name=name)
                psql.run(prepare_sql)
                raw_sql = RAW_SQL.format(
                    bbox=bbox,
                    size=params["size"],
                    k=audience.k,
                    join="JOIN reports_report r ON r.citizenrequest_ptr_id = c.id"
                    if audience.public
                    else "",
                    public="AND NOT r.is_hidden AND c.public_location IS NOT NULL"
                    if audience.public
                    else "",
                )
                body = get(server.port, path, auth)
                source = re.search(rb'"source":"(\w+)"', body).group(1).decode()
                level = int(re.search(rb'"level":(\d+)', body).group(1))
                ours = Series(f"{who} z{zoom}", "endpoint")
                best = Series(f"{who} z{zoom}", "best SQL")
                raw = Series(f"{who} z{zoom}", "raw")
                measure(
                    [
                        (ours, lambda path=path, auth=auth: get(server.port, path, auth) and None),
                        (best, lambda s=execute_sql: psql.run(s)),
                        (raw, lambda s=raw_sql: psql.run(s)),
                    ],
                    reps=reps,
                    warmup=1,
                )
                rows.append(
                    f"| {zoom} | {who} | {25 * 2**level:g} m ({source}) | {ours.median:.1f} | "
                    f"{best.median:.1f} | {raw.median:.1f} | {ratio(ours.median, best.median)} | "
                    f"{raw.median / ours.median:.1f} |"
                )
                print(rows[-1], flush=True)
    finally:
        psql.close()
        server.stop()
    return [
        "Heatmap, viewport 1280 × 900 px on Libercourt, all time, no filter "
        f"(median of {reps} interleaved runs):",
        "",
        "| zoom | who | cells | endpoint (ms) | best SQL (ms) | raw points (ms) "
        "| endpoint ÷ best SQL | raw ÷ endpoint |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
        *rows,
    ]


def month_start(today: dt.date, back: int) -> dt.date:
    month = today.year * 12 + today.month - 1 - back
    return dt.date(month // 12, month % 12 + 1, 1)


def extra_cases(today: dt.date, last: dt.date, superuser) -> list[tuple]:
    """What the periods alone leave out: a town's staff (a scoped organisation), a problem
    filter (the times read per problem, the counts from the requests), a period cut mid-month
    (the whole months from the counts, its edges from the requests)."""
    from accounts.models import User
    from routing.models import Category
    from tracking.filters import RequestFilters
    from tracking.models import CitizenRequest

    year = RequestFilters(since=month_start(today, 12), until=last)
    agent = (
        User.objects.filter(memberships__isnull=False, is_superuser=False).order_by("pk").first()
    )
    recent = CitizenRequest.objects.order_by("-pk").values_list("category_id", flat=True)[0]
    slug = Category.objects.get(pk=recent).slug
    cut = RequestFilters(since=month_start(today, 12) + dt.timedelta(days=14), until=last)
    cases = [
        ("12 months, one problem", superuser, dataclasses.replace(year, categories=(slug,))),
        ("12 months from the 15th", superuser, cut),
    ]
    if agent is not None:
        cases.insert(0, (f"12 months, staff of {agent.email}", agent, year))
    return cases


def dashboard_sweep(reps: int, superuser, *, extra: bool = False, only_extra: bool = False):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accounts.permissions import stats_organisations
    from stats import selectors
    from tracking.filters import RequestFilters

    today = timezone.localdate()
    last = month_start(today, 0) - dt.timedelta(days=1)  # the end of the last whole month
    cases = (
        []
        if only_extra
        else [
            (label, superuser, RequestFilters(since=month_start(today, months), until=last))
            for months, label in PERIODS
        ]
    )
    if extra or only_extra:
        cases += extra_cases(today, last, superuser)
    rows = []
    for label, user, filters in cases:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        organisations = stats_organisations(user)
        ours = Series(label, "auto")
        raw = Series(label, "requests")
        page = Series(label, "page")
        sql_ms: list[float] = []
        queries: dict[str, int] = {}

        def run(source: str, filters=filters, queries=queries, organisations=organisations):
            with CaptureQueriesContext(connection) as captured:
                selectors.dashboard(organisations, filters=filters, source=source)
            queries[source] = len(captured)

        def run_page(filters=filters, sql_ms=sql_ms, client=client) -> None:
            with CaptureQueriesContext(connection) as captured:
                response = client.get("/statistiques/?" + filters.as_query())
            assert response.status_code == 200
            sql_ms.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)

        measure(
            [(ours, lambda: run("auto")), (raw, lambda: run("requests")), (page, run_page)],
            reps=reps,
            warmup=1,
        )
        page_sql = sorted(sql_ms[1:])[len(sql_ms[1:]) // 2]
        rows.append(
            f"| {label} ({filters.since} – {filters.until}) | {ours.median:.0f} | "
            f"{queries['auto']} | {raw.median:.0f} | {queries['requests']} | "
            f"{raw.median / ours.median:.1f} | {page.median:.0f} | {page_sql:.0f} |"
        )
        print(rows[-1], flush=True)
    return [
        "Dashboard, in-process (the operator's unless said), median of "
        f"{reps} interleaved runs (DEBUG on to count queries):",
        "",
        "| period | ours: `dashboard()` (ms) | queries | counted from the requests (ms) | "
        "queries | raw ÷ ours | whole page (ms) | its SQL (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--skip-heatmap", action="store_true")
    parser.add_argument("--skip-dashboard", action="store_true")
    parser.add_argument(
        "--extra", action="store_true", help="also a scoped staff member, a filter, a cut period"
    )
    parser.add_argument("--only-extra", action="store_true", help="those cases only")
    parser.add_argument("--out", type=Path, help="write the table here (default: results)")
    args = parser.parse_args()
    # the session made here must be valid for the gunicorn (same SECRET_KEY)
    django_setup("config.settings.dev", DEBUG="1", SECRET_KEY=PRODUCTION_ENV["SECRET_KEY"])
    from django.utils import timezone

    from accounts.models import User

    superuser = User.objects.filter(is_superuser=True).order_by("pk").first()
    started = time.perf_counter()
    lines = [
        f"Statistics sweep over the bench database's 1,000,000 requests ({timezone.localdate()})."
    ]
    if not args.skip_heatmap:
        lines += ["", *heatmap_sweep(args.reps, superuser)]
    if not args.skip_dashboard:
        lines += [
            "",
            *dashboard_sweep(args.reps, superuser, extra=args.extra, only_extra=args.only_extra),
        ]
    lines += ["", f"Sweep time: {time.perf_counter() - started:.0f} s."]
    out = args.out or RESULTS / "stats_sweep.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
