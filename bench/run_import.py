"""Layer import benchmark: ``manage.py import_layer`` against ``ogr2ogr -f PostgreSQL``.

``BENCH_DB`` names an existing database of the bench server, from which the script makes (and
at the end drops) its own scratch database ``<BENCH_DB>_import``::

    BENCH_DB=grc_bench8 .venv/bin/python bench/run_import.py [--sizes 100000,1000000] [--reps 3]

For each size it builds (once, cached in ``bench/out/``) a GeoPackage of that many points in
Lambert-93 (EPSG:2154), drawn deterministically (numpy's PCG64, fixed seed) in the CAHC's
bounding box, with the properties ``ref`` (text), ``category`` (text), ``height`` (real) and
``year`` (integer). Then it times, interleaved (ours, ogr2ogr, ours, ...) after one untimed
warm-up of each:

- ours: ``.venv/bin/python manage.py import_layer bench-import-<size>-<run> <file> --create --owner
  libercourt --geometry-type Point --ref-field ref`` (dev settings, the scratch database): the
  whole command, Python and Django start-up included, which reads the file in batches, COPYs
  the rows into a staging table, checks and reprojects them in PostGIS and stores them in
  ``gis_layers_feature`` (its generated GeoJSON column and six indexes included) in one
  transaction;
- the reference: ``ogr2ogr -f PostgreSQL PG:... <file> -nln bench_import_ogr -lco
  GEOMETRY_NAME=geom`` (GDAL's COPY into a new table with a GiST index, nothing checked).

The runs go to a scratch database made for them, ``<BENCH_DB>_import`` (migrations and
territory; dropped at the end): each of our runs imports into a new layer (``--create``), each
ogr2ogr run into a new table (the previous one dropped), so both load into an empty
destination, while the feature table grows by each run's rows (a small handicap for ours).
Before each run, untimed: ``VACUUM ANALYZE`` of the feature table and a ``CHECKPOINT``. Each
command's wall time is taken around it; its peak memory is GNU time's ``%M`` (the process's
``ru_maxrss``, as ``/usr/bin/time -v`` reports "Maximum resident set size"); the PostgreSQL
server's memory is in neither. The loaded row counts are checked after each run. Medians of
``--reps`` runs (default 3) after one warm-up round; writes ``bench/results/import.md``.

``ogr2ogr`` is Debian's ``gdal-bin`` and ``/usr/bin/time`` Debian's ``time`` (``apt-get install -y
gdal-bin time``): neither is part of the project's virtualenv.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from benchlib import (
    CAHC_BBOX,
    DB_NAME,
    OUT,
    PG_HOST,
    PG_PORT,
    PG_USER,
    RESULTS,
    ROOT,
    VENV_PYTHON,
    conninfo,
    django_env,
)

SEED = 62907
SLUG = "bench-import"
OGR_TABLE = "bench_import_ogr"
CATEGORIES = ("banc", "corbeille", "lampadaire", "borne", "arbre")
CHUNK = 100_000  # features written to the GeoPackage at a time
GNU_TIME = "/usr/bin/time"  # Debian's package "time"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def geopackage(size: int) -> Path:
    """The cached GeoPackage of ``size`` points, made once (same content for a seed and size)."""
    import numpy as np
    import pyarrow as pa
    from pyogrio.raw import write_arrow
    from pyproj import Transformer
    from shapely import points, to_wkb

    path = OUT / f"import-points-{size}-v1.gpkg"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.gpkg")
    partial.unlink(missing_ok=True)
    log(f"writing {path.name} ...")
    rng = np.random.Generator(np.random.PCG64(SEED))
    to_lambert = Transformer.from_crs(4326, 2154, always_xy=True)
    west, south, east, north = CAHC_BBOX
    for start in range(0, size, CHUNK):
        count = min(CHUNK, size - start)
        x, y = to_lambert.transform(
            rng.uniform(west, east, count), rng.uniform(south, north, count)
        )
        numbers = np.arange(start + 1, start + count + 1)
        table = pa.table(
            {
                "ref": pa.array([f"P{n:07d}" for n in numbers]),
                "category": pa.array(np.array(CATEGORIES)[rng.integers(0, 5, count)]),
                "height": pa.array(np.round(rng.uniform(0.5, 12.0, count), 2)),
                "year": pa.array(rng.integers(1950, 2026, count).astype(np.int32)),
                "geom": pa.array(to_wkb(points(np.round(x, 2), np.round(y, 2))), pa.binary()),
            }
        )
        write_arrow(
            table,
            partial,
            driver="GPKG",
            layer="points",
            geometry_name="geom",
            geometry_type="Point",
            crs="EPSG:2154",
            append=start > 0,
        )
    partial.rename(path)
    return path


def run_child(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run a command to completion: (wall seconds, its peak resident memory in MB).

    The peak comes from GNU time (``%M``): the ``ru_maxrss`` of a child forked by this script
    would count this script's own memory, which the fork shares until the exec.
    """
    with tempfile.NamedTemporaryFile("r", dir=OUT, suffix=".rss") as rss:
        started = time.perf_counter()
        done = subprocess.run(
            [GNU_TIME, "-f", "%M", "-o", rss.name, *command],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        elapsed = time.perf_counter() - started
        if done.returncode:
            sys.exit(f"{command[0]} failed ({done.returncode}):\n{done.stderr[-2000:]!r}")
        return elapsed, int(rss.read().split()[-1]) // 1024  # KiB


def scratch_database(env: dict[str, str]) -> str:
    """A new database ``<BENCH_DB>_import`` with the schema and the territory (dropped first if a
    previous run left it): the runs load millions of rows that are never deleted one by one."""
    name = f"{DB_NAME}_import"
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = f"postgis://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    for command in (["migrate", "-v0"], ["load_territory"]):
        subprocess.run(
            [str(VENV_PYTHON), "manage.py", *command],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def settle(dbname: str) -> None:
    """Untimed, before each run: no dirty pages or pending work left by the previous one."""
    with psycopg.connect(conninfo(dbname), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {OGR_TABLE}")
        conn.execute("VACUUM ANALYZE gis_layers_feature")
        conn.execute("CHECKPOINT")


def loaded(dbname: str, slug: str) -> tuple[int, int]:
    with psycopg.connect(conninfo(dbname)) as conn:
        ours = conn.execute(
            "SELECT feature_count FROM gis_layers_layer WHERE slug = %s", [slug]
        ).fetchone()
        exists = conn.execute("SELECT to_regclass(%s)", [OGR_TABLE]).fetchone()[0]
        count = f"SELECT count(*) FROM {OGR_TABLE}"  # noqa: S608 - a constant name
        theirs = conn.execute(count).fetchone() if exists else (0,)
    return (ours[0] if ours else 0), theirs[0]


def compare(size: int, reps: int, env: dict[str, str], dbname: str, pg: str, ogr2ogr: str):
    path = geopackage(size)
    samples = {"ours": [], "ogr2ogr": []}
    for rep in range(reps + 1):  # the first round is the warm-up
        slug = f"{SLUG}-{size}-{rep}"  # a new layer each time: an import into an empty layer
        commands = {
            "ours": [
                *(str(VENV_PYTHON), "manage.py", "import_layer", slug, str(path)),
                *("--create", "--owner", "libercourt", "--geometry-type", "Point"),
                *("--ref-field", "ref"),
            ],
            "ogr2ogr": [
                *(ogr2ogr, "-f", "PostgreSQL", pg, str(path)),
                *("-nln", OGR_TABLE, "-lco", "GEOMETRY_NAME=geom"),
            ],
        }
        for side, command in commands.items():
            settle(dbname)
            wall, rss = run_child(command, env)
            counts = dict(zip(commands, loaded(dbname, slug), strict=True))
            if counts[side] != size:
                sys.exit(f"{side} loaded {counts[side]} features of {size}")
            log(f"{size:>9} {side:8} {'warm-up' if rep == 0 else rep}: {wall:6.1f} s {rss} MB")
            if rep:
                samples[side].append((wall, rss))
    ours_wall = statistics.median(w for w, _ in samples["ours"])
    ogr_wall = statistics.median(w for w, _ in samples["ogr2ogr"])
    return (
        size,
        ours_wall,
        ogr_wall,
        ours_wall / ogr_wall,
        max(r for _, r in samples["ours"]),
        max(r for _, r in samples["ogr2ogr"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated point counts")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        sys.exit("ogr2ogr is not on PATH: apt-get install -y gdal-bin")
    if not Path(GNU_TIME).exists():
        sys.exit(f"{GNU_TIME} is missing: apt-get install -y time")
    env = django_env("config.settings.dev")
    log("making the scratch database ...")
    dbname = scratch_database(env)
    pg = f"PG:dbname={dbname} host={PG_HOST} port={PG_PORT} user={PG_USER}"
    version = subprocess.run([ogr2ogr, "--version"], capture_output=True, text=True).stdout
    try:
        rows = [compare(size, args.reps, env, dbname, pg, ogr2ogr) for size in sizes]
    finally:
        drop_database(dbname)
    lines = [
        "# Layer import: `manage.py import_layer` vs `ogr2ogr -f PostgreSQL`",
        "",
        f"GeoPackage of N points (EPSG:2154, 4 properties), medians of {args.reps} interleaved "
        "runs after a warm-up, each into a new layer / a new table. Peak memory: the client "
        "process's max RSS (GNU time `%M`), the largest of the runs. "
        f"{version.strip()}. Method: `bench/run_import.py`.",
        "",
        "| features | ours (s) | ogr2ogr (s) | ratio | ours max RSS (MB) | ogr2ogr max RSS (MB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {size:,} | {ours:.1f} | {ogr:.1f} | {ratio:.2f} | {rss_ours} | {rss_ogr} |"
        for size, ours, ogr, ratio, rss_ours, rss_ogr in rows
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
