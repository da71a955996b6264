"""Dependency checks behind /healthz: the database with PostGIS, Redis, and the Celery worker/beat.

Each check answers quickly (bounded by GRC_HEALTH_TIMEOUT) and never raises: it reports what is
down and why, so that an operator reads the name of the broken dependency. Who reads what is
decided by the view: the public gets the status only, staff and monitoring the details.

The Celery check broadcasts a ping to the workers: its result is kept in this process for
``CELERY_TTL_S`` seconds (in memory, as Redis may be what is down), so that a flood of /healthz
calls costs the workers one ping per web process and interval.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from . import failopen

BEAT_CACHE_KEY = "health:beat:last"
CELERY_TTL_S = 15.0

_celery_lock = threading.Lock()
_celery_memo: dict[str, tuple[float, dict[str, Any]]] = {}  # broker URL -> (monotonic, result)


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version'), postgis_lib_version()")
            pg_version, postgis_version = cursor.fetchone()
    except Exception as exc:
        return {"status": "down", "error": _first_line(exc)}
    return {"status": "ok", "postgresql": pg_version, "postgis": postgis_version}


def check_redis() -> dict[str, Any]:
    timeout = settings.GRC_HEALTH_TIMEOUT
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        client.ping()
        info = client.info("server")
    except redis.RedisError as exc:
        return {"status": "down", "error": _first_line(exc)}
    finally:
        client.close()
    return {"status": "ok", "version": info.get("redis_version")}


def check_celery(*, redis_ok: bool) -> dict[str, Any]:
    """Workers answering a broadcast ping (at most one ping per ``CELERY_TTL_S`` seconds), and
    when the beat last had a heartbeat executed."""
    if not redis_ok:
        return {"status": "down", "error": "the broker (Redis) is unreachable"}
    broker = settings.CELERY_BROKER_URL
    with _celery_lock:
        memo = _celery_memo.get(broker)
        if memo is None or time.monotonic() - memo[0] >= CELERY_TTL_S:
            memo = _celery_memo[broker] = (time.monotonic(), _ping_celery(broker))
    checked_at, pinged = memo
    result = {**pinged, "checked_seconds_ago": round(time.monotonic() - checked_at)}
    if result["status"] == "ok":
        last_beat = failopen.call(lambda: cache.get(BEAT_CACHE_KEY), None)
        result["beat_age_seconds"] = round(time.time() - last_beat) if last_beat else None
    return result


def _ping_celery(broker: str) -> dict[str, Any]:
    from config.celery import app

    try:
        with app.connection_for_write(broker) as connection:
            replies = app.control.ping(
                timeout=settings.GRC_HEALTH_TIMEOUT, limit=1, connection=connection
            )
    except Exception as exc:
        return {"status": "down", "error": _first_line(exc)}
    if not replies:
        return {"status": "down", "error": "no Celery worker answered the ping"}
    return {"status": "ok", "workers": [name for r in replies for name in r]}


def forget_celery_check() -> None:
    """Ping again at the next call (tests: a worker started or stopped meanwhile)."""
    with _celery_lock:
        _celery_memo.clear()


def rate_limits(*, redis_ok: bool) -> dict[str, Any]:
    """Whether this process enforces the rate limits (core.failopen), and since when not."""
    current = failopen.outage()
    if current is not None:
        return {
            "enforced": False,
            "since": current.since.isoformat(timespec="seconds"),
            "error": current.error,
            "calls_without_cache": current.calls,
        }
    if not redis_ok:
        return {"enforced": False, "since": None, "error": "the cache (Redis) is unreachable"}
    state: dict[str, Any] = {"enforced": True}
    last = failopen.last_outage()
    if last is not None and last.ended is not None:
        state["last_outage"] = {
            "from": last.since.isoformat(timespec="seconds"),
            "to": last.ended.isoformat(timespec="seconds"),
            "calls_without_cache": last.calls,
        }
    return state


def health_report(*, scope: str = "all") -> tuple[bool, dict[str, Any]]:
    """The checks and their details (for staff and monitoring; the public gets the status only).

    ``scope="web"``: what a web process needs to serve citizens, the database only (Redis and
    Celery are not needed to take a report, core.failopen): for the container's health check,
    so that a Redis outage does not take the web out of its proxy's rotation.
    """
    checks = {"database": check_database()}
    if scope != "web":
        checks["redis"] = check_redis()
        checks["celery"] = check_celery(redis_ok=checks["redis"]["status"] == "ok")
    down = [name for name, check in checks.items() if check["status"] != "ok"]
    report: dict[str, Any] = {
        "status": "ok" if not down else "error",
        "down": down,
        "checks": checks,
    }
    if scope != "web":
        report["rate_limits"] = rate_limits(redis_ok=checks["redis"]["status"] == "ok")
    return not down, report


def record_beat() -> None:
    cache.set(BEAT_CACHE_KEY, time.time(), timeout=3600)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
