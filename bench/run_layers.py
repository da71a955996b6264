"""Layer API benchmarks, all compared side by side in one run (medians, p95 and ratios).

Run ``bench/setup_bench.py`` once, then::

    .venv/bin/python bench/run_layers.py            # about 2.5 minutes on 2 cores

What is compared, on the 1,000,000-point layer ``bench-points`` (first 10,000 features by id):

a. Our GeoJSON endpoints (``/ogcapi/collections/bench-points/items?limit=10000`` and
   ``/api/layers/bench-points/features/?limit=10000``) through a real HTTP server (gunicorn,
   1 sync worker, ``config.settings.production``, DEBUG off) against the floor: the very SQL of
   ``gis_layers.selectors.public_page_sql()`` (the layer's row and its page in one statement,
   what the endpoints run for a public layer) run by the ``psql`` binary, its result written to
   /dev/null. The floor is measured three ways, from strictest to most lenient:

   - *psql, warm session* (the floor used for the ratio): one long-lived psql process reads the
     statement on stdin, runs it, writes the result to /dev/null (``-o /dev/null``), then echoes
     a marker on stdout; the time is taken in this script around "write the statement, read the
     marker". Like our server, whose pooled connection is warm, it pays no process start, no
     connection and no first-use cost (loading PostGIS and PROJ in a new backend, about 0.1 s),
     but it does pay for receiving and writing the whole result;
   - *psql \\timing*: what psql itself reports in that same session (statement sent → whole
     result received, before formatting it), shown for information;
   - *psql, new process*: ``psql -X -Atq -f items.sql -o /dev/null`` timed end to end (process,
     connection, new backend, query, output), measured after the others and not interleaved
     (the backend it leaves exiting would disturb the next measure). It is much slower than the
     warm floor because of the cold backend, so a ratio against it would flatter us: it is
     shown, not used for the targets.

   The server-side execution time (``EXPLAIN (ANALYZE, TIMING OFF)``) is shown as well. The
   HTTP client is this script (http.client, a new TCP connection per request since gunicorn's
   sync worker closes it; time from connect to the last byte of the body), the same for every
   server.
b. pygeoapi (its own virtualenv, version pinned in ``bench/requirements-pygeoapi.txt``) with its
   PostgreSQL provider on the view ``bench_points_v`` (the same rows: the bench layer's features,
   the attributes as columns, the geometry reprojected to WGS84 by PostGIS as ours is), served by
   gunicorn with 1 sync worker, ``pretty_print: false``, ``max_items: 10000``, same client.
   pygeoapi orders by its id field and, by default, counts the matching rows for
   ``numberMatched``; the ``count: false`` provider option (no count) is measured too.
c. djangorestframework-gis: a ``ListAPIView`` with a ``GeoFeatureModelSerializer`` over
   ``Feature.objects.filter(layer=...).order_by("id")[:10000]`` with the geometry reprojected
   to WGS84 in SQL (``Transform``), coordinates rounded to 6 decimals and the properties
   flattened as ours (``ref`` then the stored attributes): equivalent GeoJSON. It is measured
   in-process (view called with a RequestFactory request, response rendered by JSONRenderer)
   against our view called the same way (``ogc.items``: layer_items() + framing).
d. Our MVT endpoint for the z14 tile holding the most features of the layer, against
   ``tile_sql()`` run by psql the same ways as in (a).

Every comparison first checks (untimed) that both sides return the same data: exactly psql's
feature text in our bodies, the same decoded features in our tile and psql's, the same ids,
coordinates and properties for pygeoapi and DRF. Then it warms up every side and interleaves
the repetitions (ours, reference, ours, ...) so that drift on the machine hits both sides
alike, with a short untimed pause after each call (1 s after pygeoapi and DRF, whose process
goes on freeing a large response after answering). Medians, p95 (nearest rank), the ratio of
the medians (checked against the targets) and the median of the per-repetition ratios.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import itertools
import json
import math
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (
    CAHC_BBOX,
    DB_NAME,
    LAYER_SIZE,
    LAYER_SLUG,
    OUT,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PYGEOAPI_VENV,
    PYGEOAPI_VIEW,
    RESULTS,
    ROOT,
    django_env,
    django_setup,
    psql_binary,
)

LIMIT = 10_000
TILE_Z = 14
SECRET_KEY = secrets.token_urlsafe(50)
PRODUCTION_ENV = {
    "SECRET_KEY": SECRET_KEY,
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,bench.invalid",
    "SITE_URL": "https://bench.invalid",  # production settings need a public https address
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
}
GUNICORN_ARGS = ["--workers", "1", "--worker-class", "sync", "--timeout", "300"]
PSQL_ARGS = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
PSQL_CONN = ["-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", DB_NAME]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- Statistics ----------------------------------------------------------------------------------


@dataclass
class Series:
    """Samples of one measured thing, in milliseconds."""

    name: str
    what: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)  # nearest rank
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure(
    pairs: list[tuple[Series, Callable[[], float | None]]],
    *,
    reps: int,
    warmup: int,
    settle: float = 0.05,
) -> None:
    """Warm every side up, then run them in turn ``reps`` times (interleaved).

    A callable returns None to be timed here, or its own time in ms (psql's \\timing, EXPLAIN).
    After each call the machine is left ``settle`` seconds (untimed) to finish what the call
    left behind (a worker freeing a large response, a backend exiting): on 2 cores that work
    would otherwise slow down the next side measured, whichever it is.
    """
    for _ in range(warmup):
        for _, run in pairs:
            run()
            time.sleep(settle)
    for _ in range(reps):
        for series, run in pairs:
            started = time.perf_counter()
            own = run()
            elapsed = (time.perf_counter() - started) * 1000
            series.samples.append(elapsed if own is None else own)
            time.sleep(settle)


# --- HTTP ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET on a new connection to 127.0.0.1; the whole body is read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "identity"})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def http_timer(port: int, path: str) -> Callable[[], None]:
    def run() -> None:
        status, _, _ = http_get(port, path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")

    return run


class Server:
    """A gunicorn with one sync worker, in its own process group (stopped by its pid only)."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, probe: str, port: int
    ):
        self.name, self.port, self.probe = name, port, probe
        self.log_path = OUT / f"{name}.log"
        OUT.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                [*argv, "-b", f"127.0.0.1:{port}", *GUNICORN_ARGS],
                env=env,
                cwd=cwd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} stopped at start, see {self.log_path}")
            try:
                status, _, _ = http_get(self.port, self.probe)
            except OSError:
                time.sleep(0.3)
                continue
            if status == 200:
                return
            sys.exit(f"{self.name}: GET {self.probe} answered {status}, see {self.log_path}")
        sys.exit(f"{self.name} not ready after {timeout} s, see {self.log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_ours() -> Server:
    env = django_env("config.settings.production") | PRODUCTION_ENV
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    return Server(
        "ours",
        [str(gunicorn), "config.wsgi:application"],
        env,
        ROOT,
        f"/ogcapi/collections/{LAYER_SLUG}",
        free_port(),
    )


def pygeoapi_config(port: int) -> dict:
    """pygeoapi's configuration: two collections on the same view, with and without count."""
    provider = {
        "type": "feature",
        "name": "PostgreSQL",
        "data": {
            "host": PG_HOST,
            "port": PG_PORT,
            "dbname": DB_NAME,
            "user": PG_USER,
            "search_path": ["public"],
        },
        "id_field": "id",
        "table": PYGEOAPI_VIEW,
        "geom_field": "geom",
    }
    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

    def collection(count: bool) -> dict:
        return {
            "type": "collection",
            "title": "bench-points",
            "description": "1,000,000 benchmark points",
            "keywords": ["bench"],
            "extents": {"spatial": {"bbox": list(CAHC_BBOX), "crs": crs84}},
            "providers": [{**provider, "count": count}],
        }

    licence = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["fr-FR"],
            "pretty_print": False,
            "limits": {"default_items": 10, "max_items": LIMIT},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench",
                "description": "bench",
                "keywords": ["bench"],
                "url": "http://127.0.0.1",
                "terms_of_service": licence,
            },
            "license": {"name": "Licence Ouverte 2.0", "url": licence},
            "provider": {"name": "bench"},
            "contact": {"name": "bench"},
        },
        "resources": {"bench-points": collection(True), "bench-points-nocount": collection(False)},
    }


def start_pygeoapi(name: str = "pygeoapi", adjust: Callable[[dict], dict] | None = None) -> Server:
    """pygeoapi under gunicorn, its configuration written in ``OUT/name``; ``adjust`` edits
    the configuration first (the layer sweep points it at another table)."""
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = pygeoapi_config(port)
    if adjust is not None:
        config = adjust(config)
    config_path, openapi = folder / "config.yml", folder / "openapi.yml"
    config_path.write_text(json.dumps(config, indent=1))  # JSON is valid YAML
    env = dict(os.environ) | {
        "PYGEOAPI_CONFIG": str(config_path),
        "PYGEOAPI_OPENAPI": str(openapi),
    }
    bin_dir = PYGEOAPI_VENV / "bin"
    generate = [str(bin_dir / "pygeoapi"), "openapi", "generate", str(config_path)]
    subprocess.run(
        [*generate, "--output-file", str(openapi)],
        env=env,
        check=True,
        capture_output=True,
    )
    return Server(
        name,
        [str(bin_dir / "gunicorn"), "pygeoapi.flask_app:APP"],
        env,
        folder,
        "/collections/bench-points?f=json",
        port,  # the one in its configuration (its links are built from it)
    )


# --- psql ----------------------------------------------------------------------------------------


def session_settings() -> list[str]:
    """The settings our connections start with (``-c name=value`` in the database OPTIONS,
    such as ``jit=off``), for the psql session too. Before 2026-12-08 the psql floor ran with
    PostgreSQL's default ``jit=on`` (found by the layer sweep)."""
    from django.conf import settings

    if not settings.configured:
        return []
    words = settings.DATABASES["default"].get("OPTIONS", {}).get("options", "").split()
    return [
        "{} = '{}'".format(*word.split("=", 1))
        for flag, word in itertools.pairwise(words)
        if flag == "-c" and "=" in word
    ]


class PsqlSession:
    """A long-lived psql writing results to /dev/null; statements are timed from this side."""

    _TIME = re.compile(r"^Time: ([0-9.]+) ms")

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [psql_binary(), *PSQL_ARGS, *PSQL_CONN, "-o", "/dev/null"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.count = 0
        self.last_timing: float | None = None
        self._send("\\timing on")
        for setting in session_settings():  # the floor runs as our statements run
            self._send(f"SET {setting};")

    def _send(self, text: str) -> None:
        self.count += 1
        marker = f"__bench_{self.count}__"
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{text}\n\\echo {marker}\n")
        self.proc.stdin.flush()
        self.last_timing = None
        for line in self.proc.stdout:
            if line.strip() == marker:
                return
            if match := self._TIME.match(line):
                self.last_timing = float(match.group(1))
        raise RuntimeError("psql stopped")

    def run(self, statement: str) -> None:
        self._send(statement.rstrip().rstrip(";") + ";")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def psql_cold(path: Path) -> Callable[[], None]:
    argv = [psql_binary(), *PSQL_ARGS, *PSQL_CONN, "-f", str(path), "-o", "/dev/null"]

    def run() -> None:
        subprocess.run(argv, check=True)

    return run


def psql_output(path: Path) -> str:
    argv = [psql_binary(), *PSQL_ARGS, *PSQL_CONN, "-f", str(path)]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.rstrip("\n")


class Floors:
    """The psql floors of one statement and its server-side execution time.

    The warm session, its \\timing and EXPLAIN are interleaved with our endpoint; the new-process
    psql is measured afterwards on its own, because each run leaves a backend exiting in the
    background (on 2 cores it would slow down whatever is measured next).
    """

    def __init__(self, label: str, sql: str, path: Path, session: PsqlSession):
        self.sql, self.path, self.session = sql, path, session
        self.warm = Series(f"psql {label}, warm session", "statement in, result to /dev/null")
        self.timing = Series(f"psql {label}, \\timing", "reported by psql (before writing)")
        self.server = Series(f"PostgreSQL {label}, execution", "EXPLAIN (ANALYZE, TIMING OFF)")
        self.cold = Series(f"psql {label}, new process", "psql -f file -o /dev/null, end to end")
        self._timing: float | None = None

    @property
    def series(self) -> list[Series]:
        return [self.warm, self.timing, self.server, self.cold]

    def pairs(self) -> list[tuple[Series, Callable[[], float | None]]]:
        return [
            (self.warm, self._run_warm),
            (self.timing, lambda: self._timing),
            (self.server, self._run_explain),
        ]

    def measure_cold(self, reps: int) -> None:
        measure([(self.cold, psql_cold(self.path))], reps=reps, warmup=1)

    def _run_warm(self) -> None:
        self.session.run(self.sql)
        self._timing = self.session.last_timing

    def _run_explain(self) -> float:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + self.sql)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return plan[0]["Execution Time"]


# --- Data checks (untimed) -----------------------------------------------------------------------


def features_of(body: bytes) -> list[dict]:
    data = json.loads(body)
    assert data["type"] == "FeatureCollection", data.get("type")
    return data["features"]


def same_features(ours: list[dict], theirs: list[dict], *, tolerance: float) -> None:
    """Same ids in the same order, same coordinates (within tolerance) and properties."""
    assert len(ours) == len(theirs) == LIMIT, (len(ours), len(theirs))
    for a, b in zip(ours, theirs, strict=True):
        assert a["id"] == b["id"], (a["id"], b["id"])
        (ax, ay), (bx, by) = a["geometry"]["coordinates"], b["geometry"]["coordinates"]
        assert abs(ax - bx) <= tolerance and abs(ay - by) <= tolerance, (a, b)
        props_a = {k: v for k, v in a["properties"].items() if k != "id"}
        props_b = {k: v for k, v in b["properties"].items() if k != "id"}
        assert props_a.keys() == props_b.keys(), (props_a, props_b)
        for key, value in props_a.items():
            other = props_b[key]
            if isinstance(value, float | int) and not isinstance(value, bool):
                assert math.isclose(value, other, abs_tol=1e-9), (key, value, other)
            else:
                assert value == other, (key, value, other)


def same_tile(ours: bytes, theirs: bytes) -> bool:
    """Same features in both tiles. Not byte for byte: PostgreSQL may aggregate the tile with
    parallel workers, and then the order of the features in it changes from run to run.

    False when mapbox-vector-tile (a test dependency of the project) is not installed.
    """
    try:
        import mapbox_vector_tile
    except ImportError:
        return False

    def features(data: bytes) -> list[tuple]:
        (name, layer), *others = mapbox_vector_tile.decode(data).items()
        assert name == LAYER_SLUG and not others, name
        return sorted(
            (f["id"], json.dumps(f["geometry"]), json.dumps(f["properties"], sort_keys=True))
            for f in layer["features"]
        )

    assert features(ours) == features(theirs), "the tile differs from psql's"
    return True


# --- The comparisons -----------------------------------------------------------------------------


@dataclass
class Ratio:
    label: str
    ours: Series
    reference: Series
    target: str
    check: Callable[[float], bool] | None  # None: shown for information
    ours_over_reference: bool = True  # False: how many times faster ours is
    paired: bool = True  # both series were interleaved in one measure() call

    def _ratio(self, ours: float, reference: float) -> float:
        return ours / reference if self.ours_over_reference else reference / ours

    @property
    def value(self) -> float:
        """The ratio of the medians (what the targets are checked on)."""
        return self._ratio(self.ours.median, self.reference.median)

    @property
    def paired_value(self) -> float | None:
        """The median of the per-repetition ratios: insensitive to drift during the run."""
        if not self.paired:
            return None
        pairs = zip(self.ours.samples, self.reference.samples, strict=True)
        return statistics.median(self._ratio(a, b) for a, b in pairs)


FASTER = {"ours_over_reference": False}  # the reference's time ÷ ours: how many times faster
UNPAIRED = {"ours_over_reference": False, "paired": False}


def le(bound: float) -> Callable[[float], bool]:
    return lambda ratio: ratio <= bound


def ge(bound: float) -> Callable[[float], bool]:
    return lambda ratio: ratio >= bound


@dataclass
class Report:
    series: list[Series] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def bench_items(ours: Server, session: PsqlSession, args, report: Report) -> tuple[Series, str]:
    """(a); returns our /ogcapi series and the items statement (for the floor in (b))."""
    from django.db import connection

    from gis_layers import selectors
    from gis_layers.models import Layer

    layer = Layer.objects.get(slug=LAYER_SLUG)
    # The endpoint's statement for a public layer: the layer's row and its page together.
    sql, params = selectors.public_page_sql(LAYER_SLUG, bbox=None, limit=LIMIT, offset=0)
    page_sql, page_params = selectors.items_sql(
        layer, bbox=None, limit=LIMIT, offset=0, properties=None
    )
    with connection.cursor():
        statement = connection.ops.compose_sql(sql, params)
        page_statement = connection.ops.compose_sql(page_sql, page_params)
    path = OUT / "items.sql"
    path.write_text(statement + ";\n")
    page_path = OUT / "items-page.sql"
    page_path.write_text(page_statement + ";\n")
    ogc_path = f"/ogcapi/collections/{LAYER_SLUG}/items?limit={LIMIT}"
    api_path = f"/api/layers/{LAYER_SLUG}/features/?limit={LIMIT}"

    # Same data: the features text in both bodies is exactly what psql prints for the page, and
    # the endpoint's statement holds that same text after the layer's columns.
    # (returned, features, last id, whether more follow)
    returned, rest = psql_output(page_path).split("|", 1)
    text = rest.rsplit("|", 2)[0]
    assert int(returned) == LIMIT
    with connection.cursor() as cursor:
        cursor.execute(statement)
        row = cursor.fetchone()
        assert row[-4:-2] == (LIMIT, text), "public_page_sql() differs from items_sql()"
    for url in (ogc_path, api_path):
        status, headers, body = http_get(ours.port, url)
        assert status == 200 and headers["content-type"] == "application/geo+json", status
        assert f',"features":[{text}]}}'.encode() in body, f"{url}: not the psql text"
        assert len(features_of(body)) == LIMIT
    report.notes.append(
        f"(a) response body {len(body):,} bytes for {LIMIT:,} features; psql writes "
        f"{len(text):,} bytes of feature text."
    )

    ogc = Series("ours: /ogcapi/.../items (HTTP)", f"gunicorn, limit={LIMIT}")
    api = Series("ours: /api/layers/.../features/ (HTTP)", f"gunicorn, limit={LIMIT}")
    floors = Floors("public_page_sql()", statement, path, session)
    pairs = [(ogc, http_timer(ours.port, ogc_path)), (api, http_timer(ours.port, api_path))]
    log(f"(a) items: {args.reps} repetitions")
    measure([*pairs, *floors.pairs()], reps=args.reps, warmup=args.warmup)
    floors.measure_cold(args.cold_reps)
    report.series += [ogc, api, *floors.series]
    report.ratios += [
        Ratio("(a) /ogcapi items ÷ psql warm session", ogc, floors.warm, "≤ 1.3", le(1.3)),
        Ratio("(a) /api features ÷ psql warm session", api, floors.warm, "≤ 1.3", le(1.3)),
        Ratio("(a) /ogcapi items ÷ PostgreSQL execution", ogc, floors.server, "", None),
        Ratio("(a) /ogcapi items ÷ psql new process", ogc, floors.cold, "", None, paired=False),
    ]
    return ogc, statement


def bench_pygeoapi(
    ours: Server, session: PsqlSession, statement: str, args, report: Report
) -> None:
    """(b); the psql floor of (a) is interleaved again: a second ours ÷ floor, 1 s apart."""
    server = start_pygeoapi()
    try:
        server.wait_ready()
        path = f"/collections/bench-points/items?limit={LIMIT}&f=json"
        nocount_path = f"/collections/bench-points-nocount/items?limit={LIMIT}&f=json"
        ours_path = f"/ogcapi/collections/{LAYER_SLUG}/items?limit={LIMIT}"
        ours_features = features_of(http_get(ours.port, ours_path)[2])
        for url in (path, nocount_path):
            status, _, their_body = http_get(server.port, url)
            assert status == 200, status
            same_features(ours_features, features_of(their_body), tolerance=5.1e-7)
        report.notes.append(
            f"(b) pygeoapi body {len(their_body):,} bytes (full-precision coordinates, the id "
            "repeated in the properties)."
        )
        del ours_features
        gc.collect()
        default = Series("pygeoapi 0.24.0 items (HTTP)", "PostgreSQL provider, count on")
        nocount = Series("pygeoapi 0.24.0 items, count: false", "no numberMatched")
        ours_again = Series("ours: /ogcapi/.../items (HTTP), (b) run", "interleaved with pygeoapi")
        floor_again = Series("psql public_page_sql(), warm session, (b) run", "as in (a)")
        log(f"(b) pygeoapi: {args.slow_reps} repetitions")
        measure(
            [
                (ours_again, http_timer(ours.port, ours_path)),
                (floor_again, lambda: session.run(statement)),
                (default, http_timer(server.port, path)),
                (nocount, http_timer(server.port, nocount_path)),
            ],
            reps=args.slow_reps,
            warmup=1,
            settle=args.settle_slow,
        )
    finally:
        server.stop()
    report.series += [ours_again, floor_again, default, nocount]
    report.ratios += [
        Ratio(
            "(a) /ogcapi items ÷ psql warm session, (b) run",
            ours_again,
            floor_again,
            "",
            None,
        ),
        Ratio("(b) pygeoapi ÷ ours", ours_again, default, "≥ 10", ge(10), **FASTER),
        Ratio("(b) pygeoapi (count: false) ÷ ours", ours_again, nocount, "≥ 10", ge(10), **FASTER),
    ]


def drf_view():
    """A DRF list view with djangorestframework-gis producing GeoJSON equivalent to ours."""
    from django.contrib.gis.db.models.functions import Transform
    from rest_framework import generics
    from rest_framework.permissions import AllowAny
    from rest_framework.renderers import JSONRenderer
    from rest_framework_gis.fields import GeometryField
    from rest_framework_gis.serializers import GeoFeatureModelSerializer

    from gis_layers.models import Feature, Layer

    class BenchFeatureSerializer(GeoFeatureModelSerializer):
        geometry = GeometryField(source="geom_wgs84", precision=6, read_only=True)

        class Meta:
            model = Feature
            geo_field = "geometry"
            id_field = "id"
            fields = ("id", "geometry", "ref", "properties")

        def get_properties(self, instance, fields):
            return {"ref": instance.ref, **instance.properties}

    class BenchItems(generics.ListAPIView):
        serializer_class = BenchFeatureSerializer
        renderer_classes = [JSONRenderer]
        authentication_classes = []
        permission_classes = [AllowAny]
        pagination_class = None

        def get_queryset(self):
            layer = Layer.objects.get(slug=LAYER_SLUG)
            return (
                Feature.objects.filter(layer=layer)
                .only("id", "ref", "properties")
                .annotate(geom_wgs84=Transform("geom", 4326))
                .order_by("id")[:LIMIT]
            )

    return BenchItems.as_view()


def bench_drf(ours_http: Series, args, report: Report) -> None:
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    from gis_layers.api import ogc

    factory = RequestFactory(HTTP_HOST="127.0.0.1")
    view = drf_view()

    def ours_body() -> bytes:
        request = factory.get(f"/ogcapi/collections/{LAYER_SLUG}/items", {"limit": LIMIT})
        request.user = AnonymousUser()
        response = ogc.items(request, slug=LAYER_SLUG)
        assert response.status_code == 200
        return response.content

    def drf_body() -> bytes:
        response = view(factory.get("/bench/drf/items"))
        response.render()
        assert response.status_code == 200
        return response.content

    same_features(features_of(ours_body()), features_of(drf_body()), tolerance=1.1e-6)
    gc.collect()  # the parsed validation data is gone before timing starts
    ours = Series("ours: ogc.items view, in-process", "layer and page + framing")
    drf = Series("DRF-gis GeoFeatureModelSerializer, in-process", "ListAPIView + JSONRenderer")
    log(f"(c) DRF: {args.slow_reps} repetitions")
    measure(
        [(ours, lambda: ours_body() and None), (drf, lambda: drf_body() and None)],
        reps=args.slow_reps,
        warmup=1,
        settle=args.settle_slow,
    )
    report.series += [ours, drf]
    report.ratios += [
        Ratio("(c) DRF-gis ÷ ours (both in-process)", ours, drf, "≥ 50", ge(50), **FASTER),
        Ratio("(c) DRF-gis in-process ÷ ours over HTTP", ours_http, drf, "", None, **UNPAIRED),
    ]


def densest_tile(layer_id: int) -> tuple[int, int, int]:
    """The z14 tile (x, y) holding the most features of the layer, and how many."""
    from django.db import connection

    world = 20037508.342789244
    size = 2 * world / 2**TILE_Z
    with connection.cursor() as cursor:
        cursor.execute(  # only the two float constants above are interpolated
            f"""
            SELECT floor((ST_X(p) + {world}) / {size})::int AS x,
                   floor(({world} - ST_Y(p)) / {size})::int AS y, count(*) AS n
            FROM (SELECT ST_Transform(geom, 3857) AS p FROM gis_layers_feature
                  WHERE layer_id = %s) AS s
            GROUP BY 1, 2 ORDER BY n DESC, x, y LIMIT 1
            """,  # noqa: S608
            [layer_id],
        )
        return cursor.fetchone()


def bench_tile(ours: Server, session: PsqlSession, args, report: Report) -> None:
    from django.db import connection

    from gis_layers import selectors
    from gis_layers.models import Layer

    layer = Layer.objects.get(slug=LAYER_SLUG)
    x, y, count = densest_tile(layer.pk)
    sql, params = selectors.tile_sql(layer, TILE_Z, x, y)
    with connection.cursor():
        statement = connection.ops.compose_sql(sql, params)
    path = OUT / "tile.sql"
    path.write_text(statement.strip() + ";\n")
    url = f"/tiles/{LAYER_SLUG}/{TILE_Z}/{x}/{y}.mvt"
    status, headers, body = http_get(ours.port, url)
    assert status == 200 and headers["content-type"] == "application/vnd.mapbox-vector-tile"
    checked = same_tile(body, bytes.fromhex(psql_output(path).removeprefix("\\x")))
    report.notes.append(
        f"(d) tile {TILE_Z}/{x}/{y}: {count:,} features inside it, {len(body):,} bytes of MVT"
        + (
            ", same features as psql's."
            if checked
            else "; NOT compared with psql's tile (install mapbox-vector-tile, a test dependency)."
        )
    )
    tile = Series(f"ours: /tiles/.../{TILE_Z}/{x}/{y}.mvt (HTTP)", "gunicorn")
    floors = Floors("tile_sql()", statement, path, session)
    log(f"(d) tile {TILE_Z}/{x}/{y}: {args.tile_reps} repetitions")
    measure(
        [(tile, http_timer(ours.port, url)), *floors.pairs()],
        reps=args.tile_reps,
        warmup=args.warmup,
    )
    floors.measure_cold(args.cold_reps)
    report.series += [tile, *floors.series]
    report.ratios += [
        Ratio("(d) MVT tile ÷ psql warm session", tile, floors.warm, "≤ 1.15", le(1.15)),
        Ratio("(d) MVT tile ÷ PostgreSQL execution", tile, floors.server, "", None),
        Ratio("(d) MVT tile ÷ psql new process", tile, floors.cold, "", None, paired=False),
    ]


# --- Output --------------------------------------------------------------------------------------


def environment() -> str:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), postgis_lib_version()")
        postgres, postgis = cursor.fetchone()
    return (
        f"PostgreSQL {postgres}, PostGIS {postgis}, Python {sys.version.split()[0]}, "
        f"Django {django.get_version()}, gunicorn 1 sync worker"
    )


def markdown(report: Report, args, elapsed: float) -> str:
    lines = [
        f"Layer benchmarks, {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, "
        f"{LAYER_SIZE:,} points, limit {LIMIT:,}; {args.reps} repetitions ({args.tile_reps} "
        f"for tiles, {args.slow_reps} for pygeoapi and DRF) after warm-up, interleaved; took "
        f"{elapsed:.0f} s. {environment()}.",
        "",
        "| measured | how | n | median (ms) | p95 (ms) |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {s.name} | {s.what} | {len(s.samples)} | {s.median:.1f} | {s.p95:.1f} |"
        for s in report.series
    ]
    lines += [
        "",
        "| ratio | of the medians | median of paired ratios | target | met |",
        "|---|---:|---:|---|---|",
    ]
    for ratio in sorted(report.ratios, key=lambda r: r.label[:3]):  # (a), (b)... stable
        paired = ratio.paired_value
        met = "–" if ratio.check is None else ("yes" if ratio.check(ratio.value) else "**no**")
        lines.append(
            f"| {ratio.label} | {ratio.value:.2f}× | "
            f"{'–' if paired is None else f'{paired:.2f}×'} | {ratio.target or '–'} | {met} |"
        )
    lines += ["", *[f"- {note}" for note in report.notes]]
    return "\n".join(lines) + "\n"


def check_setup() -> None:
    from gis_layers.models import Layer

    layer = Layer.objects.filter(slug=LAYER_SLUG).first()
    if layer is None or layer.feature_count != LAYER_SIZE:
        sys.exit("The bench layer is missing: run .venv/bin/python bench/setup_bench.py first.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50, help="repetitions of (a)")
    parser.add_argument("--tile-reps", type=int, default=20, help="repetitions of (d)")
    parser.add_argument("--slow-reps", type=int, default=7, help="for pygeoapi and DRF")
    parser.add_argument("--cold-reps", type=int, default=8, help="psql in a new process")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--settle-slow", type=float, default=1.0, help="pause (s) after each pygeoapi/DRF call"
    )
    parser.add_argument("--skip-pygeoapi", action="store_true")
    parser.add_argument("--skip-drf", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    OUT.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    django_setup("config.settings.production", **PRODUCTION_ENV)
    check_setup()
    if not args.skip_pygeoapi and not (PYGEOAPI_VENV / "bin" / "pygeoapi").exists():
        sys.exit(f"pygeoapi is not installed in {PYGEOAPI_VENV}: run bench/setup_bench.py.")

    report = Report()
    ours = start_ours()
    session = PsqlSession()
    try:
        ours.wait_ready()
        ours_http, items_statement = bench_items(ours, session, args, report)
        bench_tile(ours, session, args, report)
        if not args.skip_pygeoapi:
            bench_pygeoapi(ours, session, items_statement, args, report)
        if not args.skip_drf:
            bench_drf(ours_http, args, report)
    finally:
        session.close()
        ours.stop()
    table = markdown(report, args, time.perf_counter() - started)
    (RESULTS / "layers.md").write_text(table)
    # Every sample, in the order taken, for whoever wants to look past the medians.
    samples = {series.name: series.samples for series in report.series}
    (OUT / "layers-samples.json").write_text(json.dumps(samples, indent=1))
    print(table)


if __name__ == "__main__":
    main()
