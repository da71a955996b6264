"""Production settings are safe, and a missing service is explained in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "k9Zq2-production-like-secret-7Hf3mXv8Lp0sWc4Rt6Yb1Nd5Gj9Ke2Qa8Uu3Oi7",
    "ALLOWED_HOSTS": "portail.libercourt.fr",
    "SITE_URL": "https://portail.libercourt.fr",
    "GRC_ENV_FILE": "/nonexistent",
}


def manage(*args: str, env: dict[str, str], timeout: int = 60) -> subprocess.CompletedProcess:
    dropped = ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={**PROD_ENV, "DATABASE_URL": os.environ.get("DATABASE_URL", settings.DATABASE_URL)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    env = {**PROD_ENV, "DATABASE_URL": "postgis://x@127.0.0.1/x"}
    env.pop("SECRET_KEY")
    result = manage("check", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SECRET_KEY is not set" in lines[0]


def test_production_refuses_to_start_without_its_public_https_address():
    """Links in mails are built on SITE_URL: production never falls back to localhost. (What
    an acceptable one is: ``site_url_problem`` below; that production reads it: the compose
    test, test_compose_volumes.py.)"""
    env = {**PROD_ENV, "DATABASE_URL": "postgis://x@127.0.0.1/x"}
    env.pop("SITE_URL")
    result = manage("check", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SITE_URL is not set: export SITE_URL=https://" in lines[0]


@pytest.mark.parametrize(
    ("site_url", "said"),
    [
        ("", "SITE_URL is not set"),
        ("portail.libercourt.fr", "is not an https:// address"),
        ("https://", "is not an https:// address"),
        ("https://portail.libercourt.fr:http", "is not an https:// address"),
        ("https://localhost:8000", "is a local address"),
        ("https://grc.localhost", "is a local address"),
        ("https://127.0.0.1", "is a local address"),
        ("https://[::1]:8443", "is a local address"),
        ("https://0.0.0.0", "is a local address"),
        ("https://grc.example.org", "its host 'grc.example.org' is not in ALLOWED_HOSTS"),
        # links are made by appending a path: nothing may follow the address
        ("https://portail.libercourt.fr/?x=1", "has a query, a fragment"),
        ("https://portail.libercourt.fr?", "has a query, a fragment"),
        ("https://portail.libercourt.fr/#haut", "has a query, a fragment"),
        ("https://grc:secret@portail.libercourt.fr", "or a user and password"),
        ("https://portail.libercourt.fr", None),
        ("HTTPS://Portail.Libercourt.fr/", None),
        ("https://portail.libercourt.fr/grc/", None),
    ],
)
def test_site_url_must_be_served_over_https_by_an_allowed_host(site_url, said):
    from config.env import site_url_problem

    problem = site_url_problem(site_url, ["portail.libercourt.fr", "127.0.0.1"])
    assert problem == said if said is None else said in problem
    assert site_url_problem("https://carvin.example.org", [".example.org"]) is None


def test_links_in_mails_are_built_on_site_url(settings):
    from core.links import site_url

    settings.GRC_SITE_URL = "https://portail.libercourt.fr/grc/"
    assert site_url("/suivi/abc/") == "https://portail.libercourt.fr/grc/suivi/abc/"


def test_unreachable_database_is_one_line_with_the_fix():
    env = {
        **PROD_ENV,
        "DATABASE_URL": "postgis://grc:secret@127.0.0.1:1/nowhere",
        "DB_POOL_TIMEOUT": "2",
    }
    result = manage("migrate", "--check", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Database unreachable at postgis://grc:***@127.0.0.1:1/nowhere")
    assert "DATABASE_URL=" in lines[0]
    assert "secret" not in lines[0]  # the password is never printed


def test_unreachable_redis_is_one_line_with_the_fix(stopped_redis_url):
    env = {
        **PROD_ENV,
        "DATABASE_URL": os.environ.get("DATABASE_URL", settings.DATABASE_URL),
        "REDIS_URL": stopped_redis_url,
    }
    result = manage("shell", "-c", "from django.core.cache import cache; cache.get('x')", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith(f"Redis unreachable at {stopped_redis_url}")
    assert "REDIS_URL=" in result.stderr


def test_connections_are_kept_per_worker_and_checked():
    db = settings.DATABASES["default"]
    assert db["ENGINE"] == "django.contrib.gis.db.backends.postgis"
    assert "pool" not in db["OPTIONS"]  # DB_POOL=1 for threaded or ASGI servers
    assert db["CONN_MAX_AGE"] == 300
    assert db["CONN_HEALTH_CHECKS"] is True


# With DB_POOL=1 requests take a connection from psycopg's pool and give it back: Django's and
# core.db's cursors both work, and the bypass of core.db leaves pooled connections alone.
POOLED = """
from django.core.signals import request_finished, request_started
from django.db import connection
from core.db import bound_cursor

def request():
    request_started.send(sender=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 40 + %s", [1])
        django = cursor.fetchone()[0]
    with bound_cursor() as cursor:
        cursor.execute("SELECT 40 + %s", [2])
        bound = cursor.fetchone()[0]
    request_finished.send(sender=None)
    return django, bound, connection.connection is None

db = connection.settings_dict
print(db["OPTIONS"]["pool"]["max_size"], db["CONN_MAX_AGE"], request(), request())
"""


@pytest.mark.django_db
def test_the_pool_serves_threaded_servers():
    env = {**PROD_ENV, "DATABASE_URL": _test_database_url(), "DB_POOL": "1"}
    result = manage("shell", "--no-imports", "-c", POOLED, env=env)
    # each request gave its connection back to the pool
    assert result.stdout.strip() == "10 0 (41, 42, True) (41, 42, True)", result.stderr


def _test_database_url() -> str:
    from django.db import connection

    name = connection.settings_dict["NAME"]  # the test database, there for the session
    return settings.DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"


# A worker's kept connection (core.db): Django's ping before a request's first statement is
# skipped when the connection finished a request within the bypass window and its socket has
# nothing to read; made when it sat idle longer, or when its server process is gone (a restart,
# an administrator), and then the statement runs on a new connection, even through bound_cursor.
STALE = """
import time
import psycopg
from django.core.signals import request_finished, request_started
from django.db import connection
from core import db
from core.db import bound_cursor

pings = []
usable = connection.is_usable
connection.is_usable = lambda: pings.append(1) or usable()

def request(pause=0.0):
    time.sleep(pause)
    request_started.send(sender=None)
    with bound_cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() + %s", [0])
        pid = cursor.fetchone()[0]
    request_finished.send(sender=None)
    return pid, len(pings)

first = request()  # a new connection is not pinged
again = request()  # used just now, nothing to read: not pinged
late = request(db.CHECK_BYPASS_WINDOW + 0.1)  # idle past the window: pinged
with psycopg.connect(CONNINFO, autocommit=True) as other:
    other.execute("SELECT pg_terminate_backend(%s, 5000)", [first[0]])
gone = request()  # within the window, but the closed socket reads as ready: pinged, replaced
print(first[1], again == first, late == (first[0], 1), gone[1], gone[0] != first[0])
"""


@pytest.mark.django_db
def test_kept_connections_are_pinged_when_idle_or_closed_and_replaced_when_dead():
    from django.db import connection

    params = connection.get_connection_params()
    conninfo = " ".join(
        f"{k}={params[k]}" for k in ("host", "port", "user", "dbname") if params.get(k)
    )
    env = {**PROD_ENV, "DATABASE_URL": _test_database_url()}
    code = f"CONNINFO = {conninfo!r}\n{STALE}"
    result = manage("shell", "--no-imports", "-c", code, env=env)
    assert result.stdout.split() == ["0", "True", "True", "2", "True"], result.stderr


def test_geodjango_uses_a_gdal_that_blocks_file_access():
    from django.contrib.gis import gdal

    assert gdal.GDAL_VERSION >= (3, 9)
    with pytest.raises(gdal.GDALException):
        gdal.SpatialReference("/etc/passwd")


def test_storage_srid_is_lambert_93():
    from territory.models import Commune

    assert settings.GRC_STORAGE_SRID == 2154
    assert Commune._meta.get_field("geom").srid == 2154
