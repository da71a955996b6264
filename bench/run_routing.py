"""Routing benchmark: one decision at 300 rule polygons of a few hundred vertices each.

Run after ``bench/setup_bench.py`` (same database, ``libercourt_grc_bench``)::

    .venv/bin/python bench/run_routing.py

It loads the demo services and the category catalogue, (re)creates 300 deterministic rule
polygons (buffered points, 300 vertices each, radius 150-900 m) over the CAHC with random
priorities and domains, then times ``routing.selectors.route_for`` on 2,000 deterministic points
of the CAHC: with no rule and with the 300 rules, interleaved. Prints medians and p95 and writes
``bench/results/routing.md``. The share of routing in report creation is measured once reports
exist (citizen-reporting issue).
"""

from __future__ import annotations

import random
import statistics
import time

from benchlib import CAHC_BBOX, RESULTS, django_setup

RULES = 300
POINTS = 2_000
SEED = 62907


def vacuum_analyze() -> None:
    """Fresh statistics and no dead rows left by a previous run (VACUUM needs autocommit)."""
    import psycopg
    from benchlib import conninfo

    with psycopg.connect(conninfo(), autocommit=True) as conn:
        for table in ("routing_routingrule", "territory_communepart", "territory_commune"):
            conn.execute(f"VACUUM ANALYZE {table}")


def main() -> None:
    django_setup("config.settings.dev", DEBUG="1")
    from django.contrib.gis.geos import Point
    from django.db import connection

    from core.demo import demo_data_load
    from organisations.models import Domain, Service
    from routing.models import Category, RoutingRule
    from routing.selectors import route_for

    demo_data_load(with_layers=False)
    categories = list(Category.objects.select_related("domain"))
    services = list(Service.objects.filter(is_active=True))
    domains = list(Domain.objects.all())
    rng = random.Random(SEED)
    minx, miny, maxx, maxy = CAHC_BBOX
    points = [
        Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy), srid=4326) for _ in range(POINTS)
    ]
    picks = [rng.choice(categories) for _ in range(POINTS)]

    def timed(label: str) -> list[float]:
        durations = []
        for point, category in zip(points, picks, strict=True):
            start = time.perf_counter()
            route_for(location=point, category=category)
            durations.append((time.perf_counter() - start) * 1000)
        print(f"[routing] {label}: median {statistics.median(durations):.3f} ms")
        return durations

    RoutingRule.objects.filter(name__startswith="bench-").delete()
    vacuum_analyze()
    baseline = timed("no rule")
    with connection.cursor() as cursor:
        for n in range(RULES):
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            radius = rng.uniform(150, 900)
            rule = RoutingRule.objects.create(
                name=f"bench-{n:03d}",
                priority=rng.randint(1, 50),
                target_service=rng.choice(services),
            )
            rule.domains.add(rng.choice(domains))
            cursor.execute(
                "UPDATE routing_routingrule SET geom = ST_Multi(ST_Buffer(ST_Transform("
                "ST_SetSRID(ST_MakePoint(%s, %s), 4326), 2154), %s, 75)) WHERE id = %s",
                [x, y, radius, rule.pk],
            )
        cursor.execute(
            "SELECT avg(ST_NPoints(geom)) FROM routing_routingrule WHERE name LIKE 'bench-%%'"
        )
        vertices = cursor.fetchone()[0]
    vacuum_analyze()
    with_rules = timed(f"{RULES} rules")

    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    lines = [
        f"Routing benchmark: {POINTS} decisions, {RULES} rule polygons of {vertices:.0f} vertices "
        "on average, route_for() in-process (one SQL query per decision).",
        "",
        "| case | median (ms) | p95 (ms) |",
        "|---|---:|---:|",
        f"| no rule | {statistics.median(baseline):.2f} | {p95(baseline):.2f} |",
        f"| {RULES} rules | {statistics.median(with_rules):.2f} | {p95(with_rules):.2f} |",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "routing.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
