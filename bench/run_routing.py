"""Routing benchmark: one decision at 300 rule polygons of a few hundred vertices each.

Run after ``bench/setup_bench.py`` (same database, ``libercourt_grc_bench``)::

    .venv/bin/python bench/run_routing.py

It loads the demo services and the category catalogue, (re)creates 300 deterministic rule
polygons (buffered points, 300 vertices each, radius 150-900 m) over the CAHC with random
priorities and domains, then times ``routing.selectors.route_for`` on 2,000 deterministic points
of the CAHC: with no rule and with the 300 rules, interleaved. Prints medians and p95 and writes
``bench/results/routing.md``.

Then it measures the share of routing in report creation: ``reports.services.report_create``
(each call its own committed transaction: the reference, the two inserts, the timeline, the
follower, the outbox mail) on 500 of those points that route, with the 300 rules in place, and
the time spent inside ``route_for`` during those calls. In-process, without HTTP, form parsing
or photos, so the share is an upper bound of what a citizen's submission sees. The bench reports
are deleted afterwards.
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

    create, routed_part = report_creation_share(points, picks)
    share = sum(routed_part) / sum(create)

    lines = [
        f"Routing benchmark: {POINTS} decisions, {RULES} rule polygons of {vertices:.0f} vertices "
        "on average, route_for() in-process (one SQL query per decision).",
        "",
        "| case | median (ms) | p95 (ms) |",
        "|---|---:|---:|",
        f"| no rule | {statistics.median(baseline):.2f} | {p95(baseline):.2f} |",
        f"| {RULES} rules | {statistics.median(with_rules):.2f} | {p95(with_rules):.2f} |",
        "",
        f"Report creation ({len(create)} reports, {RULES} rules, `report_create()` in-process, "
        "each committed):",
        "",
        "| measured | median (ms) | p95 (ms) |",
        "|---|---:|---:|",
        f"| report_create() | {statistics.median(create):.2f} | {p95(create):.2f} |",
        f"| of which route_for() | {statistics.median(routed_part):.2f} | {p95(routed_part):.2f} |",
        "",
        f"Share of routing in report creation: **{share:.1%}** (sum of routing time / sum of "
        "creation time; target at most 5 %).",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "routing.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def report_creation_share(points, picks, count: int = 500) -> tuple[list[float], list[float]]:
    """Time report_create() and, within it, route_for(), on points that route."""
    from django.core.exceptions import ValidationError

    from notifications.models import OutboxMail
    from reports import services as report_services
    from reports.models import Report
    from routing.selectors import route_for

    routing_times: list[float] = []

    def timed_route_for(**kwargs):
        start = time.perf_counter()
        try:
            return route_for(**kwargs)
        finally:
            routing_times.append((time.perf_counter() - start) * 1000)

    report_services.route_for = timed_route_for
    create: list[float] = []
    routed: list[float] = []
    references: list[str] = []
    try:
        for n, (point, category) in enumerate(zip(points, picks, strict=True)):
            if len(create) >= count:
                break
            routing_times.clear()
            start = time.perf_counter()
            try:
                report = report_services.report_create(
                    category=category,
                    location=point,
                    description=f"Signalement de banc d'essai n° {n}.",
                    contact_email=f"bench{n}@example.org",
                    equipment_id=None,
                )
            except ValidationError:
                continue  # outside the CAHC, or a commune not on the portal
            create.append((time.perf_counter() - start) * 1000)
            routed.append(sum(routing_times))
            references.append(report.reference)
    finally:
        report_services.route_for = route_for
        OutboxMail.objects.filter(reference__in=references).delete()
        Report.objects.filter(reference__in=references).delete()
    print(f"[routing] report creation: {len(create)} reports")
    return create, routed


if __name__ == "__main__":
    main()
