"""Report creation over HTTP: the share of routing in it, and creation under concurrency.

Run after ``bench/setup_bench.py`` (same database, ``libercourt_grc_bench``)::

    .venv/bin/python bench/run_reports.py

1. **Share of routing.** A gunicorn (1 sync worker, production settings, DEBUG off) answers
   ``POST /api/reports/`` (JSON, no photo) for 300 deterministic (point, category) pairs in
   Libercourt that route, one at a time, with ``GRC_SERVER_TIMING=1``: the ``Server-Timing``
   header gives the time spent in ``route_for()`` inside each request and the server's total.
   Share = sum of routing time / sum of the time the client waits (each creation: parsing,
   validation, routing, the report's inserts, timeline, follower, outbox mail, commit, the Celery
   publish, the answer).
2. **Concurrency.** A gunicorn with 4 sync workers; 20 client threads send 25 reports each
   (500), each with its own ``Idempotency-Key``; one send in ten is retried at once with the
   same key and body, as a client that lost the answer would. Throughput, p50/p95 latency, and
   the proof: the number of distinct tracking numbers answered equals the number of keys, equals
   the number of reports stored by the run, and every retry got the first answer.

Bench reports, their mails and keys are deleted afterwards; the server publishes its Celery
tasks to Redis db 5, which is flushed at the end (no worker runs: the mails are not sent).
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import sys
import threading
import time
import uuid

from benchlib import RESULTS, ROOT, django_env, django_setup
from run_layers import PRODUCTION_ENV, Server, free_port

PAIRS = 300
THREADS, PER_THREAD, RETRY_EVERY = 20, 25, 10
SEED = 62907
BENCH_REDIS = "redis://127.0.0.1:6379/5"
LIBERCOURT_BOX = (2.995, 50.470, 3.030, 50.492)
MARK = "[bench-reports]"


def post(port: int, body: dict, key: str | None = None) -> tuple[int, dict, float, dict]:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/api/reports/", body=data, headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read() or b"{}")
    finally:
        conn.close()
    timings = {}
    for part in (response.getheader("Server-Timing") or "").split(","):
        name, _, duration = part.strip().partition(";dur=")
        if duration:
            timings[name] = float(duration)
    return response.status, payload, (time.perf_counter() - start) * 1000, timings


def start_server(workers: int) -> Server:
    env = django_env("config.settings.production") | PRODUCTION_ENV
    # One address sends everything here: the per-address limits would refuse it.
    env |= {
        "REDIS_URL": BENCH_REDIS,
        "GRC_SERVER_TIMING": "1",
        "RATE_LIMIT_REPORT": "100000/60",
        "RATE_LIMIT_ATTEMPT": "100000/60",
    }
    server = Server(
        f"reports-{workers}",
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi:application", "-w", str(workers)],
        env,
        ROOT,
        "/api/routing/preview?lon=3.0105&lat=50.4804&category=nid-de-poule",
        free_port(),
    )
    server.wait_ready()
    return server


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def body(n: int, lon: float, lat: float, category) -> dict:
    return {
        "category": category.slug,
        "lon": lon,
        "lat": lat,
        "description": f"{MARK} n° {n}",
        "contact_email": f"bench{n}@example.org",
    }


def routable_pairs() -> list[tuple]:
    """Deterministic (lon, lat, category) in Libercourt that the portal routes."""
    from django.contrib.gis.geos import Point

    from routing.models import Category
    from routing.selectors import route_for

    rng = random.Random(SEED)
    # JSON without photos: the categories that do not require one.
    categories = list(
        Category.objects.select_related("domain").filter(is_active=True, photo_required=False)
    )
    pairs = []
    while len(pairs) < PAIRS:
        lon = rng.uniform(LIBERCOURT_BOX[0], LIBERCOURT_BOX[2])
        lat = rng.uniform(LIBERCOURT_BOX[1], LIBERCOURT_BOX[3])
        category = rng.choice(categories)
        if route_for(location=Point(lon, lat, srid=4326), category=category).status == "routed":
            pairs.append((round(lon, 6), round(lat, 6), category))
    return pairs


def routing_share(pairs: list[tuple]) -> list[str]:
    """One request at a time; routing and server time from the Server-Timing header."""
    server = start_server(1)
    try:
        for lon, lat, category in pairs[:10]:
            post(server.port, body(0, lon, lat, category))  # warm-up
        http_ms, server_ms, routing_ms = [], [], []
        for n, (lon, lat, category) in enumerate(pairs, 1):
            status, _, elapsed, timings = post(server.port, body(n, lon, lat, category))
            if status != 201:
                sys.exit(f"POST answered {status}")
            http_ms.append(elapsed)
            server_ms.append(timings["total"])
            routing_ms.append(timings["route"])
    finally:
        server.stop()
    share = sum(routing_ms) / sum(http_ms)
    share_server = sum(routing_ms) / sum(server_ms)
    return [
        f"Report creation over HTTP ({PAIRS} reports one at a time, gunicorn 1 sync worker, "
        "production settings, JSON without photo):",
        "",
        "| measured | median (ms) | p95 (ms) |",
        "|---|---:|---:|",
        f"| POST /api/reports/, as the client waits | {statistics.median(http_ms):.2f} | "
        f"{p95(http_ms):.2f} |",
        f"| in the server (Django, from the first middleware to the answer) | "
        f"{statistics.median(server_ms):.2f} | {p95(server_ms):.2f} |",
        f"| of which routing (route_for, inside the request) | "
        f"{statistics.median(routing_ms):.2f} | {p95(routing_ms):.2f} |",
        "",
        f"Share of routing in report creation: **{share:.1%}** of the time the client waits "
        f"({share_server:.1%} of the server's time); target at most 5 %. (Timings from the "
        "`Server-Timing` header, `GRC_SERVER_TIMING=1`.)",
        "",
    ]


def concurrency(pairs: list[tuple]) -> list[str]:
    """20 clients, retries with the same key; proof that each accepted report is stored once."""
    from reports.models import Report

    server = start_server(4)
    lock = threading.Lock()
    sent: dict[str, dict] = {}  # key -> first answer
    latencies: list[float] = []
    failures: list[str] = []
    mismatched: list[str] = []

    def client(thread: int) -> None:
        local = random.Random(SEED + thread)
        for i in range(PER_THREAD):
            n = 10_000 + thread * PER_THREAD + i
            lon, lat, category = local.choice(pairs)
            key = str(uuid.UUID(int=local.getrandbits(128)))
            status, answer, elapsed, _ = post(server.port, body(n, lon, lat, category), key)
            with lock:
                latencies.append(elapsed)
                if status != 201:
                    failures.append(f"{status} {answer}")
                    continue
                sent[key] = answer
            if i % RETRY_EVERY == 0:
                status, again, elapsed, _ = post(server.port, body(n, lon, lat, category), key)
                with lock:
                    latencies.append(elapsed)
                    if status != 201 or again != answer:
                        mismatched.append(key)

    try:
        threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
    finally:
        server.stop()
    answered = {answer["reference"] for answer in sent.values()}
    # The reports of this phase: numbered from 10,000 in their description.
    stored = {
        reference
        for reference, description in Report.objects.filter(
            description__startswith=MARK
        ).values_list("reference", "description")
        if int(description.rsplit("n° ", 1)[1]) >= 10_000
    }
    duplicates = stored - answered  # reports that a retry would have created again
    exactly_once = (
        len(sent) == len(answered) == len(answered & stored) and not duplicates and not mismatched
    )
    lines = [
        f"Concurrency: {THREADS} client threads × {PER_THREAD} reports, one in {RETRY_EVERY} "
        "retried with its key at once; gunicorn 4 sync workers:",
        "",
        "| measured | value |",
        "|---|---:|",
        f"| requests sent (incl. retries) | {len(latencies)} |",
        f"| wall time | {wall:.1f} s |",
        f"| throughput | {len(latencies) / wall:.0f} requests/s |",
        f"| latency p50 / p95 | {statistics.median(latencies):.0f} / {p95(latencies):.0f} ms |",
        f"| keys answered 201 | {len(sent)} |",
        f"| distinct tracking numbers answered | {len(answered)} |",
        f"| of them stored | {len(answered & stored)} |",
        f"| reports stored that no answer names (duplicates) | {len(duplicates)} |",
        f"| retries whose answer differed from the first | {len(mismatched)} |",
        f"| failed requests | {len(failures)} |",
        "",
        f"Every accepted report stored exactly once: **{'yes' if exactly_once else 'NO'}**.",
    ]
    if failures:
        lines += ["", "Failures: " + "; ".join(failures[:5])]
    return lines


def clean_up() -> None:
    import redis

    from core.models import IdempotentRequest
    from notifications.models import OutboxMail
    from reports.models import Report

    refs = list(
        Report.objects.filter(description__startswith=MARK).values_list("reference", flat=True)
    )
    OutboxMail.objects.filter(reference__in=refs).delete()
    Report.objects.filter(reference__in=refs).delete()
    IdempotentRequest.objects.filter(endpoint="reports:create").delete()
    redis.Redis.from_url(BENCH_REDIS).flushdb()


def main() -> None:
    django_setup("config.settings.dev", DEBUG="1")
    from core.demo import demo_data_load

    demo_data_load(with_layers=False)
    clean_up()
    pairs = routable_pairs()
    try:
        results = routing_share(pairs)
        print("\n".join(results), flush=True)
        results += concurrency(pairs)
    finally:
        clean_up()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.md").write_text("\n".join(results) + "\n", encoding="utf-8")
    print("\n".join(results))


if __name__ == "__main__":
    main()
