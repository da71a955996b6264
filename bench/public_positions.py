"""The public map and the OGC collection of reports over four viewports, timed and explained.

Against a database of its own with many reports (never the development one): a copy of a
migrated database that holds the territory, filled with ``bench/export_memory.py fill N``, or
in SQL with reports spread over the CAHC in every category. The stored public points are filled
by the migration, or after a bulk load with the triggers off by ``manage.py public_positions
--rebuild``; run ANALYZE after a load.

    export DATABASE_URL=postgis://postgres@127.0.0.1:5432/<bench database>
    .venv/bin/python bench/public_positions.py [--plans]

For each viewport (a street, a quarter, a commune, the whole CAHC) it runs what a request runs:
the map at zoom 12 (clusters) and 17 (points), the OGC items page (limit 10 and the default
1,000) with the count the page needs when it is full. Each statement is captured as the portal
sends it, run under EXPLAIN ANALYZE, and reported as the best execution time of ``RUNS`` runs;
``--plans`` prints the first run's plan (estimated against actual rows, the indexes used).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

RUNS = 3
VIEWPORTS = {
    "street": (3.060, 50.500, 3.066, 50.503),
    "quarter": (3.00, 50.46, 3.04, 50.49),
    "commune": (2.95, 50.42, 3.05, 50.50),
    "CAHC": (2.85, 50.35, 3.10, 50.53),
}


def captured(call) -> list[tuple[str, object]]:
    """The statements ``call()`` sends, with their parameters."""
    from django.db import connection

    statements = []

    def wrapper(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        call()
    return statements


def explained(sql: str, params) -> tuple[float, list[str]]:
    """Best execution time (ms) over RUNS runs of EXPLAIN ANALYZE, and the first plan."""
    from django.db import connection

    best, plan = float("inf"), []
    with connection.cursor() as cursor:
        for run in range(RUNS):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, SUMMARY ON) " + sql, params)
            lines = [line for (line,) in cursor.fetchall()]
            if run == 0:
                plan = lines
            total = next(float(x.split()[2]) for x in lines if x.startswith("Execution Time"))
            best = min(best, total)
    return best, plan


def measure(label: str, call, *, plans: bool) -> float:
    total = 0.0
    for sql, params in captured(call):
        ms, plan = explained(sql, params)
        total += ms
        if plans:
            print(f"----- {label}: {ms:.1f} ms")
            print("\n".join(plan))
    return total


def main(plans: bool) -> None:
    import django

    django.setup()
    from django.db import connection

    from gis_layers.selectors import BBox
    from reports import ogc, selectors
    from tracking.filters import RequestFilters

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_report")
        print(f"reports: {cursor.fetchone()[0]:,}")
    rows = {}
    for name, corners in VIEWPORTS.items():
        bbox = BBox(*corners)
        with connection.cursor() as cursor:
            cursor.execute(ogc._COUNT_SQL, {**ogc._params(bbox)})
            matched = cursor.fetchone()[0]
        figures = {"matched": matched}
        for zoom in (12, 17):
            figures[f"map z{zoom}"] = measure(
                f"{name} map z{zoom}",
                lambda bbox=bbox, zoom=zoom: selectors.reports_map(
                    bbox, zoom=zoom, filters=RequestFilters()
                ),
                plans=plans,
            )
        for limit in (10, 1000):
            page_sql = ogc._PAGE_SQL
            figures[f"OGC page {limit}"] = measure(
                f"{name} OGC page {limit}",
                lambda bbox=bbox, limit=limit, page_sql=page_sql: captured_page(
                    ogc, bbox, limit, page_sql
                ),
                plans=plans,
            )
            figures[f"OGC page+count {limit}"] = measure(
                f"{name} OGC page+count {limit}",
                lambda bbox=bbox, limit=limit: ogc.report_items(bbox, limit, 0),
                plans=False,
            )
        rows[name] = figures
    keys = list(next(iter(rows.values())))
    print("| query | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in keys:
        cells = [f"{v[key]:,}" if key == "matched" else f"{v[key]:.1f} ms" for v in rows.values()]
        print(f"| {key} | " + " | ".join(cells) + " |")


def captured_page(ogc, bbox, limit: int, page_sql: str) -> None:
    """The page statement alone (what a request runs when the page is not full)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(page_sql, {**ogc._params(bbox), "limit": limit, "offset": 0})


if __name__ == "__main__":
    main(plans="--plans" in sys.argv[1:])
