"""Layer sweep: items and tiles of the 1,000,000-point layer across the range users hit, ours
against the best SQL, tipg and pygeoapi.

Run after ``bench/setup_bench.py`` (database, pygeoapi's and tipg's virtualenvs; ``BENCH_DB``
names another database)::

    .venv/bin/python bench/layers_sweep.py [--reps 5] [--skip-pygeoapi] [--skip-tipg]
    # also: --slow-reps (pygeoapi, default 3), --skip-items, --skip-tiles

Places: the centres of the densest and of the emptiest square of 0.1 % of the layer's extent
(a sliding window over the points, in Lambert-93 metres).

Items (``limit`` 10,000, and 100 for the smallest squares): squares of 0.1 %, 1 % and 10 % of
the extent centred on the densest place (moved to stay inside the extent), the whole extent,
and 0.1 % on the emptiest place; page 1 and a deep page (page 50, or the last page when there
are fewer than 50; none when there is one page). Each row compares:

- ours: ``/ogcapi/collections/bench-points/items?bbox=...&limit=...&offset=...`` through
  gunicorn (1 sync worker, production settings), as run_layers.py serves it; when our ``next``
  link does not page by offset (keyset paging), one more row times the deep page reached by
  following our ``next`` links;
- best SQL: the fastest of four statements for the page in a warm psql session (result to
  /dev/null): its ids taken by id through an index, then ``string_agg`` of the stored
  ``geojson`` of those rows (``ids``), or the rows with their ``geojson`` in one pass
  (``rows``), each as PostgreSQL plans it and forced to walk the ids in order (``id walk``);
  a deep page in the keyset form ``id > last``, whatever ours does (``BEST_SQL``);
- tipg (uvicorn, 1 worker) and pygeoapi (gunicorn, 1 sync worker) on the table
  ``bench_points_4326`` (the same rows, the geometry stored in WGS84 with a GiST index), paging by
  offset, their only way. pygeoapi runs fewer repetitions (``--slow-reps``), interleaved with
  ours again.

Tiles: z10, z12, z14 and z16 tiles holding the densest and the emptiest place: ours
(``/tiles/bench-points/{z}/{x}/{y}.mvt``), the very statement of
``gis_layers.selectors.tile_sql()`` (read at run time) in the warm psql session, and tipg's
``/collections/public.bench_points_4326/tiles/WebMercatorQuad/{z}/{x}/{y}``.

Before timing, each row checks that the sides return the same features (see ``check_items`` and
``check_tile``). Each figure is the median of ``--reps`` interleaved runs after one warm-up
(run_layers.measure). Prints the table and writes it to ``bench/results/layers_sweep.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from benchlib import (
    DB_NAME,
    LAYER_SIZE,
    LAYER_SLUG,
    OUT,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PYGEOAPI_VENV,
    RESULTS,
    django_setup,
)
from run_layers import (
    PRODUCTION_ENV,
    PsqlSession,
    Series,
    Server,
    free_port,
    http_get,
    measure,
    psql_output,
    start_ours,
    start_pygeoapi,
)
from setup_bench import TIPG_TABLE, TIPG_VENV

FRACTIONS = [(0.001, "0.1 %"), (0.01, "1 %"), (0.1, "10 %"), (1.0, "100 %")]
ZOOMS = [10, 12, 14, 16]
DEEP_PAGE = 50
EDGE_M = 10.0  # ours tests a bbox in Lambert-93, tipg/pygeoapi in WGS84: edges may differ this much
TIPG_COLLECTION = f"public.{TIPG_TABLE}"
WORLD = 20037508.342789244  # half the width of WebMercatorQuad, metres

# The best single statement for a page, in two forms; the faster one in each row is the floor.
# "ids": the page's ids alone, by id through an index (the (layer, id) btree or the layer's
# GiST index, as the planner finds best), then the stored GeoJSON of those rows only: no sort
# of the matching rows with their text. "rows": the rows with their GeoJSON in one pass, faster
# when the ids come in order from the btree anyway. A deep page is read in the keyset form
# (id > the last id of the page before), whatever ours does. Each form is also run forced to
# walk the ids in order ("id walk", see best_sql).
BEST_SQL = {
    "ids": """
SELECT count(*), COALESCE(string_agg(g.geojson, ',' ORDER BY p.id), '')
FROM (
    SELECT f.id FROM gis_layers_feature f
    WHERE f.layer_id = {layer} AND f.geom && {env} AND ST_Intersects(f.geom, {env}){after}
    ORDER BY f.id LIMIT {limit}
) p JOIN gis_layers_feature g ON g.id = p.id
""",
    "rows": """
SELECT count(*), COALESCE(string_agg(p.geojson, ',' ORDER BY p.id), '')
FROM (
    SELECT f.id, f.geojson FROM gis_layers_feature f
    WHERE f.layer_id = {layer} AND f.geom && {env} AND ST_Intersects(f.geom, {env}){after}
    ORDER BY f.id LIMIT {limit}
) p
""",
}


def log(message: str) -> None:
    print(f"[sweep] {message}", file=sys.stderr, flush=True)


# --- Places, squares, tiles ----------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    name: str
    x: float  # Lambert-93 (storage SRID), metres
    y: float
    lon: float
    lat: float
    count: int  # features in the 0.1 % square around it


def extent_2154(layer_id: int) -> tuple[float, float, float, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) "
            "AS e FROM gis_layers_feature WHERE layer_id = %s) s",
            [layer_id],
        )
        return cursor.fetchone()


def find_places(layer_id: int, extent) -> tuple[Place, Place]:
    """The densest and the emptiest 0.1 % squares: points counted in cells of half the square's
    side, then every 2 × 2 block of cells inside the extent summed (a sliding window)."""
    from django.db import connection

    x0, y0, x1, y1 = extent
    cell = math.sqrt(0.001 * (x1 - x0) * (y1 - y0)) / 2
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT floor((ST_X(geom) - %s) / %s)::int, floor((ST_Y(geom) - %s) / %s)::int, "
            "count(*) FROM gis_layers_feature WHERE layer_id = %s GROUP BY 1, 2",
            [x0, cell, y0, cell, layer_id],
        )
        counts = {(i, j): n for i, j, n in cursor.fetchall()}
    nx, ny = int((x1 - x0) // cell), int((y1 - y0) // cell)  # whole cells only
    windows = {
        (i, j): sum(counts.get((i + a, j + b), 0) for a in (0, 1) for b in (0, 1))
        for i in range(nx - 1)
        for j in range(ny - 1)
    }
    dense = max(windows, key=lambda k: (windows[k], k))
    empty = min(windows, key=lambda k: (windows[k], k))
    places = []
    for name, (i, j) in (("densest", dense), ("emptiest", empty)):
        x, y = x0 + (i + 1) * cell, y0 + (j + 1) * cell
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), "
                "2154), 4326) p",
                [x, y],
            )
            lon, lat = cursor.fetchone()
        places.append(Place(name, x, y, lon, lat, windows[(i, j)]))
    return places[0], places[1]


def square_bbox(place: Place, fraction: float, extent) -> tuple[float, float, float, float]:
    """The WGS84 bbox of a square of ``fraction`` of the extent's area around the place (moved
    to stay inside the extent); the whole extent, padded by about 10 m, for 100 %."""
    from django.db import connection

    x0, y0, x1, y1 = extent
    if fraction >= 1:
        sql, params = "ST_MakeEnvelope(%s, %s, %s, %s, 2154)", [x0 - 10, y0 - 10, x1 + 10, y1 + 10]
    else:
        half = math.sqrt(fraction * (x1 - x0) * (y1 - y0)) / 2
        cx = min(max(place.x, x0 + half), x1 - half)
        cy = min(max(place.y, y0 + half), y1 - half)
        sql, params = (
            "ST_MakeEnvelope(%s, %s, %s, %s, 2154)",
            [cx - half, cy - half, cx + half, cy + half],
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "  # noqa: S608
            f"(SELECT ST_Transform({sql}, 4326)::box2d AS b) s",  # constant SQL
            params,
        )
        return tuple(round(v, 6) for v in cursor.fetchone())


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


# --- Servers -------------------------------------------------------------------------------------


class Uvicorn(Server):
    """tipg under uvicorn, 1 worker; Server's readiness probe and stop (by process group)."""

    def __init__(self, name: str, app: str, env: dict[str, str], cwd: Path, probe: str):
        self.name, self.port, self.probe = name, free_port(), probe
        self.log_path = OUT / f"{name}.log"
        argv = [str(TIPG_VENV / "bin" / "uvicorn"), app, "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), "--workers", "1", "--no-access-log"]
        argv += ["--log-level", "warning"]
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def start_tipg() -> Server:
    """tipg on the WGS84 table; its tile settings set to ours (extent, buffer, feature cap)."""
    from gis_layers import selectors

    folder = OUT / "tipg"  # its settings also read a .env in the working directory: none there
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPG_", "DATABASE_URL"))}
    env |= {
        "DATABASE_URL": f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{DB_NAME}",
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": json.dumps([TIPG_COLLECTION]),
        "TIPG_DB_FUNCTIONS": "[]",
        "TIPG_CATALOG_TTL": "86400",  # no catalog refresh inside a timed request
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        "TIPG_TILE_RESOLUTION": str(selectors.MVT_EXTENT),
        "TIPG_TILE_BUFFER": str(selectors.MVT_BUFFER),
        "TIPG_MAX_FEATURES_PER_TILE": str(max(tile_cap(z) for z in ZOOMS)),
        "TIPG_SET_MVT_LAYERNAME": "true",
    }
    return Uvicorn("tipg", "tipg.main:app", env, folder, f"/collections/{TIPG_COLLECTION}")


def start_pygeoapi_sweep() -> Server:
    """pygeoapi as in run_layers.py (count on), but on the WGS84 table, which has a GiST index
    its bbox filter can use (the view of run_layers.py has none)."""

    def on_the_wgs84_table(config: dict) -> dict:
        resource = config["resources"]["bench-points"]
        resource["providers"][0]["table"] = TIPG_TABLE
        return config | {"resources": {"bench-points": resource}}

    return start_pygeoapi("pygeoapi-sweep", on_the_wgs84_table)


# --- Items ---------------------------------------------------------------------------------------


def query(base: str, **params) -> str:
    return base + "?" + urlencode({k: v for k, v in params.items() if v is not None})


def bbox_text(bbox) -> str:
    return ",".join(f"{v:.6f}" for v in bbox)


def get_ok(port: int, path: str) -> bytes:
    status, _, body = http_get(port, path)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    return body


def timer(port: int, path: str):
    return lambda: get_ok(port, path) and None


def next_href(body: bytes) -> str | None:
    for link in json.loads(body).get("links", []):
        if link.get("rel") == "next":
            parts = urlsplit(link["href"])
            return parts.path + ("?" + parts.query if parts.query else "")
    return None


def pages_by_offset(href: str, request: str, offset: int, limit: int) -> bool:
    """Whether our next link is the request with offset + limit (offset paging)."""
    got = dict(parse_qsl(urlsplit(href).query))
    expected = dict(parse_qsl(urlsplit(request).query)) | {"offset": str(offset + limit)}
    return got == expected


@dataclass
class ItemCase:
    place: Place
    size: str
    bbox: tuple[float, float, float, float]
    matched: int
    limit: int
    page: int
    keyset_path: str | None = None  # our deep page reached through our next links
    notes: list[str] = field(default_factory=list)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def env_sql(bbox, storage_srid: int) -> str:
    minx, miny, maxx, maxy = (repr(float(v)) for v in bbox)
    return f"ST_Transform(ST_MakeEnvelope({minx}, {miny}, {maxx}, {maxy}, 4326), {storage_srid})"


def matched_and_last(layer_id: int, bbox, offset: int) -> tuple[int, int | None]:
    """How many features the bbox holds (as ours filters it), and the id just before ``offset``."""
    from django.db import connection

    from gis_layers.selectors import STORAGE_SRID

    env = env_sql(bbox, STORAGE_SRID)
    where = f"layer_id = %s AND geom && {env} AND ST_Intersects(geom, {env})"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM gis_layers_feature WHERE {where}", [layer_id])  # noqa: S608
        matched = cursor.fetchone()[0]
        last = None
        if offset:
            cursor.execute(
                f"SELECT id FROM gis_layers_feature WHERE {where} ORDER BY id "  # noqa: S608
                "OFFSET %s LIMIT 1",
                [layer_id, offset - 1],
            )
            last = cursor.fetchone()[0]
    return matched, last


SERIAL = "SET max_parallel_workers_per_gather = 0"
WALK = f"SET enable_sort = off;\n{SERIAL}"
UNWALK = "RESET enable_sort;\nRESET max_parallel_workers_per_gather"


def best_sql(layer_id: int, case: ItemCase, last: int | None) -> dict[str, str]:
    from gis_layers.selectors import STORAGE_SRID

    values = {
        "layer": int(layer_id),
        "env": env_sql(case.bbox, STORAGE_SRID),
        "after": "" if last is None else f" AND f.id > {int(last)}",
        "limit": int(case.limit),
    }
    statements = {}
    for form, sql in BEST_SQL.items():
        statement = sql.format(**values).strip()
        statements[form] = statement
        # The same forced to walk the ids in order (no sort, no parallel workers), stopping
        # at the page's end: PostgreSQL's own choice for a 1-10 % bbox, a bitmap scan of all
        # the matches then a sort, is several times slower.
        statements[f"{form}, id walk"] = f"{WALK};\n{statement};\n{UNWALK}"
    return statements


def ids_of(body: bytes) -> list[int]:
    return [int(f["id"]) for f in json.loads(body)["features"]]


def check_items(name: str, ours: list[int], theirs: list[int], case: ItemCase) -> None:
    """The same features as ours, but for points within EDGE_M of the bbox's edges (ours tests
    the bbox reprojected to Lambert-93, with straight edges there; tipg and pygeoapi test it in
    WGS84) and the ids such a difference pushes across the end of the page."""
    from django.db import connection

    from gis_layers.selectors import API_SRID

    if ours == theirs:
        return
    # An edge feature matched by one side only shifts the page by one: ids then differ at the
    # end of a first page and at both ends of a deep one.
    head = max(min(ours, default=0), min(theirs, default=0))
    tail = min(max(ours, default=0), max(theirs, default=0))
    differ = sorted(i for i in set(ours) ^ set(theirs) if head <= i <= tail)
    assert len(ours) == len(theirs) or len(ours) < case.limit or len(theirs) < case.limit
    if differ:
        minx, miny, maxx, maxy = case.bbox
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT max(ST_Distance(ST_Transform(geom, {API_SRID})::geography, "  # noqa: S608
                f"ST_Boundary(ST_MakeEnvelope(%s, %s, %s, %s, {API_SRID}))::geography)) "
                "FROM gis_layers_feature WHERE id = ANY(%s)",  # a constant SRID
                [minx, miny, maxx, maxy, differ],
            )
            farthest = cursor.fetchone()[0]
        assert farthest <= EDGE_M, f"{name}: {len(differ)} features differ, up to {farthest} m in"
        case.notes.append(
            f"{name}: {len(differ)} features within {farthest:.1f} m of an edge differ"
        )
    else:
        shifted = len(set(ours) ^ set(theirs))
        case.notes.append(f"{name}: page shifted, {shifted} id(s) differ at its ends")


@dataclass
class ItemRow:
    case: ItemCase
    how: str  # "offset" or "next link"
    ours: Series
    forms: dict[str, Series]  # the best SQL's forms
    tipg: Series | None = None
    ours_slow: Series | None = None
    pygeoapi: Series | None = None
    ours_bytes: int = 0

    @property
    def best(self) -> Series:
        return min(self.forms.values(), key=lambda series: series.median)


def item_cases(layer_id: int, places, extent, port: int, base: str) -> list[ItemCase]:
    dense, empty = places
    squares = [(dense, fraction, label) for fraction, label in FRACTIONS]
    squares.insert(1, (empty, 0.001, "0.1 %"))
    cases = []
    for place, fraction, label in squares:
        bbox = square_bbox(place, fraction, extent)
        matched, _ = matched_and_last(layer_id, bbox, 0)
        for limit in (10_000, 100) if fraction == 0.001 else (10_000,):
            pages = max(1, math.ceil(matched / limit))
            cases.append(ItemCase(place, label, bbox, matched, limit, 1))
            if pages >= 2:
                cases.append(ItemCase(place, label, bbox, matched, limit, min(DEEP_PAGE, pages)))
    for case in cases:  # our deep pages reached by our next links, when they are not offsets
        if case.page == 1:
            continue
        path = query(base, bbox=bbox_text(case.bbox), limit=case.limit)
        href = next_href(get_ok(port, path))
        if href is None or pages_by_offset(href, path, 0, case.limit):
            continue
        for _ in range(case.page - 2):
            href = next_href(get_ok(port, href))
        case.keyset_path = href
    return cases


def run_items(
    layer_id: int, ours: Server, psql: PsqlSession, tipg, pygeoapi, args, places, extent
) -> list[ItemRow]:
    base = f"/ogcapi/collections/{LAYER_SLUG}/items"
    rows = []
    for case in item_cases(layer_id, places, extent, ours.port, base):
        matched, last = matched_and_last(layer_id, case.bbox, case.offset)
        statements = best_sql(layer_id, case, last)
        box = bbox_text(case.bbox)
        offset = case.offset or None
        ours_path = query(base, bbox=box, limit=case.limit, offset=offset)
        # Same data: the page's feature text in our body is exactly each best statement's.
        body = get_ok(ours.port, ours_path)
        ours_ids = ids_of(body)
        assert len(ours_ids) == min(case.limit, matched - case.offset)
        for form, statement in statements.items():
            sql_path = OUT / f"sweep-items-{form.replace(', ', '-')}.sql"
            sql_path.write_text(statement + ";\n")
            returned, text = psql_output(sql_path).split("|", 1)
            assert text.encode() in body, f"{form}: not our feature text"
            assert int(returned) == len(ours_ids), (form, returned)
        hows = [("offset", ours_path)]
        if case.keyset_path:
            keyset_body = get_ok(ours.port, case.keyset_path)
            assert ids_of(keyset_body) == ours_ids, "our next links lead to another page"
            hows.append(("next link", case.keyset_path))
        tipg_path = query(
            f"/collections/{TIPG_COLLECTION}/items", bbox=box, limit=case.limit, offset=offset
        )
        pyg_path = query(
            "/collections/bench-points/items", bbox=box, limit=case.limit, offset=offset, f="json"
        )
        if tipg:
            check_items("tipg", ours_ids, ids_of(get_ok(tipg.port, tipg_path)), case)
        if pygeoapi:
            check_items("pygeoapi", ours_ids, ids_of(get_ok(pygeoapi.port, pyg_path)), case)
        for how, path in hows:
            forms = {form: Series(f"best SQL, {form}", sql) for form, sql in statements.items()}
            row = ItemRow(case, how, Series("ours", path), forms)
            row.ours_bytes = len(get_ok(ours.port, path))
            pairs = [(row.ours, timer(ours.port, path))]
            pairs += [(forms[f], lambda s=sql: psql.run(s)) for f, sql in statements.items()]
            if tipg and how == "offset":
                row.tipg = Series("tipg", tipg_path)
                pairs.append((row.tipg, timer(tipg.port, tipg_path)))
            measure(pairs, reps=args.reps, warmup=1, settle=args.settle)
            if pygeoapi and how == "offset":
                row.ours_slow, row.pygeoapi = Series("ours", path), Series("pygeoapi", pyg_path)
                measure(
                    [
                        (row.ours_slow, timer(ours.port, path)),
                        (row.pygeoapi, timer(pygeoapi.port, pyg_path)),
                    ],
                    reps=args.slow_reps,
                    warmup=1,
                    settle=args.settle_slow,
                )
            rows.append(row)
            log(item_line(row))
    return rows


# --- Tiles ---------------------------------------------------------------------------------------


def tile_features(data: bytes, *, id_property: str | None) -> dict[int, str]:
    """Decoded features of a tile by id (ours: the feature id; tipg: its ``id`` property)."""
    import mapbox_vector_tile

    if not data:
        return {}
    layers = list(mapbox_vector_tile.decode(data).values())
    assert len(layers) == 1, len(layers)
    return {
        int(f["properties"][id_property] if id_property else f["id"]): json.dumps(f["geometry"])
        for f in layers[0]["features"]
    }


@dataclass
class TileRow:
    place: Place
    z: int
    x: int
    y: int
    ours: Series
    raw: Series
    tipg: Series | None = None
    ours_bytes: int = 0
    tipg_bytes: int = 0
    features: int = 0
    note: str = ""


def tile_cap(z: int) -> int:
    """Our feature cap for a tile at this zoom (selectors.tile_feature_cap, when there is one)."""
    from gis_layers import selectors

    if hasattr(selectors, "tile_feature_cap"):
        return selectors.tile_feature_cap(z)
    return getattr(selectors, "MAX_TILE_FEATURES", 10**9)


def tile_matches(layer, z: int, x: int, y: int) -> int:
    """How many features tile_sql() selects before its cap (its filter: the tile and its
    buffer's margin, in Lambert-93)."""
    from django.db import connection

    from gis_layers.selectors import MVT_BUFFER, MVT_EXTENT, STORAGE_SRID

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM gis_layers_feature WHERE layer_id = %s AND geom && "  # noqa: S608
            f"ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), {STORAGE_SRID})",
            [layer.pk, z, x, y, MVT_BUFFER / MVT_EXTENT],
        )
        return cursor.fetchone()[0]


def check_tile(ours: dict[int, str], tipg: dict[int, str], cap: int, capped: bool) -> str:
    """tipg selects the points inside the tile, ours also those in its buffer (drawn across the
    edge): tipg's features are ours less those in the buffer. A capped tile holds up to ``cap``
    of them for us (any: the statement has no ORDER BY), the first ``cap`` by id for tipg."""
    from gis_layers.selectors import MVT_EXTENT

    if capped:
        assert len(tipg) <= cap, (len(tipg), cap)
        return f"capped at {cap:,}: ours {len(ours):,} features, tipg {len(tipg):,} (first by id)"
    # Coordinates are snapped to the tile's grid: a point a fraction of a unit outside the tile
    # lands on its edge, so the edge belongs to neither side for sure.
    inner = {
        i
        for i, g in ours.items()
        if all(1 <= c <= MVT_EXTENT - 1 for c in json.loads(g)["coordinates"])
    }
    assert set(tipg) <= set(ours) and inner <= set(tipg), "tipg: not ours less the buffer"
    inside = set(tipg)
    return f"tipg: ours less the {len(ours) - len(inside):,} in the buffer"


def run_tiles(layer_id: int, ours: Server, psql: PsqlSession, tipg, args, places) -> list[TileRow]:
    from django.db import connection

    from gis_layers import selectors
    from gis_layers.models import Layer

    layer = Layer.objects.get(pk=layer_id)
    # As layer_tile() runs tile_sql(): without parallel workers (the endpoint's transaction
    # sets it locally; here the session, which only runs tiles from now on).
    psql.run(SERIAL)
    no_parallel = f"{SERIAL};\n"
    properties = ",".join(
        ["id", "ref", *getattr(selectors, "tile_properties", lambda _: [])(layer)]
    )
    rows = []
    for place in places:
        for z in ZOOMS:
            x, y = tile_of(place.lon, place.lat, z)
            sql, params = selectors.tile_sql(layer, z, x, y)
            with connection.cursor():
                statement = connection.ops.compose_sql(sql, params).strip()
            path = OUT / "sweep-tile.sql"
            path.write_text(no_parallel + statement + ";\n")
            ours_path = f"/tiles/{LAYER_SLUG}/{z}/{x}/{y}.mvt"
            body = get_ok(ours.port, ours_path)
            raw = bytes.fromhex(psql_output(path).removeprefix("\\x"))
            features = tile_features(body, id_property=None)
            raw_features = tile_features(raw, id_property=None)
            capped = tile_matches(layer, z, x, y) > tile_cap(z)
            if not capped:
                assert features == raw_features, "the tile differs from psql's"
            else:  # which features a capped tile holds may change from one run to the next
                assert 0 < len(features) <= tile_cap(z) and 0 < len(raw_features) <= tile_cap(z)
            row = TileRow(place, z, x, y, Series("ours", ours_path), Series("raw", statement))
            row.ours_bytes, row.features = len(body), len(features)
            pairs = [
                (row.ours, timer(ours.port, ours_path)),
                (row.raw, lambda s=statement: psql.run(s)),
            ]
            if tipg:
                # the same cap and the same properties as ours (plus the id, ours is the feature's)
                tipg_path = query(
                    f"/collections/{TIPG_COLLECTION}/tiles/WebMercatorQuad/{z}/{x}/{y}",
                    limit=tile_cap(z),
                    properties=properties,
                )
                tipg_body = get_ok(tipg.port, tipg_path)
                row.tipg_bytes = len(tipg_body)
                theirs = tile_features(tipg_body, id_property="id")
                row.note = check_tile(features, theirs, tile_cap(z), capped)
                row.tipg = Series("tipg", tipg_path)
                pairs.append((row.tipg, timer(tipg.port, tipg_path)))
            measure(pairs, reps=args.reps, warmup=1, settle=args.settle)
            rows.append(row)
            log(tile_line(row))
    return rows


# --- Output --------------------------------------------------------------------------------------


def ms(series: Series | None) -> str:
    return "—" if series is None or not series.samples else f"{series.median:.1f}"


def times(a: Series | None, b: Series | None, digits: int = 2) -> str:
    """a ÷ b, of the medians."""
    if a is None or b is None or not a.samples or not b.samples or not b.median:
        return "—"
    return f"{a.median / b.median:.{digits}f}"


def item_line(row: ItemRow) -> str:
    c = row.case
    page = f"{c.page}" + (f" (offset {c.offset:,})" if row.how == "offset" and c.offset else "")
    if row.how != "offset":
        page += " via our next links"
    return (
        f"| {c.place.name} | {c.size} | {c.matched:,} | {c.limit:,} | {page} | {ms(row.ours)} | "
        f"{ms(row.best)} ({row.best.name.removeprefix('best SQL, ')}) | {ms(row.tipg)} | "
        f"{ms(row.ours_slow)} | {ms(row.pygeoapi)} | "
        f"{times(row.ours, row.best)} | {times(row.tipg, row.ours, 1)} | "
        f"{times(row.pygeoapi, row.ours_slow, 1)} | {row.ours_bytes:,} |"
    )


def tile_line(row: TileRow) -> str:
    return (
        f"| {row.place.name} | {row.z}/{row.x}/{row.y} | {row.features:,} | {ms(row.ours)} | "
        f"{ms(row.raw)} | {ms(row.tipg)} | {times(row.ours, row.raw)} | "
        f"{times(row.tipg, row.ours)} | {row.ours_bytes:,} | {row.tipg_bytes:,} |"
    )


def markdown(items: list[ItemRow], tiles: list[TileRow], args, places, elapsed: float) -> str:
    lines = [
        f"Layer sweep, {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, "
        f"{LAYER_SIZE:,} points; medians of {args.reps} interleaved runs after one warm-up "
        f"(pygeoapi: {args.slow_reps}, interleaved with ours again); took {elapsed:.0f} s.",
        "",
        *[
            f"- {p.name} place: {p.lon:.5f}, {p.lat:.5f} ({p.count:,} features in its 0.1 % square)"
            for p in places
        ],
    ]
    if items:
        lines += [
            "",
            "Items (targets: ours ÷ best SQL ≤ 1.3, pygeoapi ÷ ours ≥ 20):",
            "",
            "| place | bbox | matched | limit | page | ours (ms) | best SQL (ms) | tipg (ms) | "
            "ours, pygeoapi run (ms) | pygeoapi (ms) | ours ÷ best SQL | tipg ÷ ours | "
            "pygeoapi ÷ ours | our bytes |",
            "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *[item_line(row) for row in items],
        ]
        notes = dict.fromkeys(  # once per case (a case may have two rows), in the table's order
            f"{r.case.place.name} {r.case.size}, limit {r.case.limit:,}, page {r.case.page}: {n}"
            for r in items
            for n in r.case.notes
        )
        lines += ["", *[f"- {note}" for note in notes]] if notes else []
    if tiles:
        lines += [
            "",
            "Tiles (targets: ours ÷ raw ≤ 1.15, tipg ÷ ours > 1):",
            "",
            "| place | tile | features | ours (ms) | raw tile_sql() (ms) | tipg (ms) | "
            "ours ÷ raw | tipg ÷ ours | our bytes | tipg bytes |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *[tile_line(row) for row in tiles],
            "",
            *[f"- {r.place.name} {r.z}/{r.x}/{r.y}: {r.note}" for r in tiles if r.note],
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--slow-reps", type=int, default=3, help="repetitions for pygeoapi")
    parser.add_argument("--settle", type=float, default=0.1, help="pause (s) after each call")
    parser.add_argument(
        "--settle-slow", type=float, default=1.0, help="pause (s) after each pygeoapi call"
    )
    parser.add_argument("--skip-pygeoapi", action="store_true")
    parser.add_argument("--skip-tipg", action="store_true")
    parser.add_argument("--skip-items", action="store_true")
    parser.add_argument("--skip-tiles", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    OUT.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    django_setup("config.settings.production", **PRODUCTION_ENV)
    from django.db import connection

    from gis_layers.models import Layer

    layer = Layer.objects.filter(slug=LAYER_SLUG).first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [TIPG_TABLE])
        has_table = cursor.fetchone()[0]
    if layer is None or layer.feature_count != LAYER_SIZE or not has_table:
        sys.exit("The bench layer or its WGS84 table is missing: run bench/setup_bench.py.")
    if not args.skip_tipg and not (TIPG_VENV / "bin" / "uvicorn").exists():
        sys.exit(f"tipg is not installed in {TIPG_VENV}: run bench/setup_bench.py.")
    if not args.skip_pygeoapi and not (PYGEOAPI_VENV / "bin" / "pygeoapi").exists():
        sys.exit(f"pygeoapi is not installed in {PYGEOAPI_VENV}: run bench/setup_bench.py.")

    servers: list[Server] = []
    psql = PsqlSession()  # with our connections' settings (jit=off...)
    try:
        ours = start_ours()
        servers.append(ours)
        tipg = None if args.skip_tipg else start_tipg()
        pygeoapi = None if args.skip_pygeoapi or args.skip_items else start_pygeoapi_sweep()
        servers += [s for s in (tipg, pygeoapi) if s]
        for server in servers:
            server.wait_ready()
        places = find_places(layer.pk, extent := extent_2154(layer.pk))
        for place in places:
            log(f"{place.name} place: {place.lon:.5f}, {place.lat:.5f} ({place.count:,} in 0.1 %)")
        items = (
            []
            if args.skip_items
            else run_items(layer.pk, ours, psql, tipg, pygeoapi, args, places, extent)
        )
        if pygeoapi:
            pygeoapi.stop()  # not needed for tiles
        tiles = [] if args.skip_tiles else run_tiles(layer.pk, ours, psql, tipg, args, places)
    finally:
        psql.close()
        for server in servers:
            server.stop()
    table = markdown(items, tiles, args, places, time.perf_counter() - started)
    (RESULTS / "layers_sweep.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
