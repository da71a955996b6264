"""Shared settings of the layer benchmarks: the bench database, paths and Django bootstrap.

Everything runs against a separate database (``libercourt_grc_bench``) so that the 1,000,000
benchmark features never touch the development database.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"  # git-ignored: generated configs, logs, SQL files
RESULTS = BENCH / "results"  # kept: the measured tables
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYGEOAPI_VENV = ROOT / ".local" / "bench-venv"
PYGEOAPI_REQUIREMENTS = BENCH / "requirements-pygeoapi.txt"

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
DB_NAME = os.environ.get("BENCH_DB", "libercourt_grc_bench")  # BENCH_DB: another name
DATABASE_URL = f"postgis://{PG_USER}@{PG_HOST}:{PG_PORT}/{DB_NAME}"

LAYER_SLUG = "bench-points"
LAYER_SIZE = 1_000_000
# The CAHC's bounding box in WGS84 (lon/lat): where the benchmark points are drawn.
CAHC_BBOX = (2.88496, 50.36439, 3.08179, 50.51278)
PYGEOAPI_VIEW = "bench_points_v"


def conninfo(dbname: str = DB_NAME) -> str:
    """A libpq connection string (psycopg and psql) for the bench server."""
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={dbname}"


def psql_binary() -> str:
    found = shutil.which("psql")
    if found is None:
        sys.exit("psql is not on PATH: install postgresql-client.")
    return found


def django_env(settings_module: str) -> dict[str, str]:
    """Process environment pointing Django at the bench database (never the dev one)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def django_setup(settings_module: str, **extra_env: str) -> None:
    """Configure Django in this process against the bench database."""
    os.environ.update(django_env(settings_module))
    os.environ.update(extra_env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        name = cursor.fetchone()[0]
    if name != DB_NAME:  # never benchmark (or generate data) in another database
        sys.exit(f"Connected to {name!r}, expected {DB_NAME!r}: refusing to go on.")
