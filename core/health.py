"""Dependency checks behind /healthz: the database with PostGIS, Redis, and the Celery worker/beat.

Each check answers quickly (bounded by GRC_HEALTH_TIMEOUT) and never raises: it reports what is
down and why, so that an operator reads the name of the broken dependency. Who reads what is
decided by the view: the public gets the status only, staff and monitoring the details.

Anyone may call /healthz, so a report is kept in this process for ``CHECK_TTL_S`` seconds (in
memory, as Redis may be what is down): a flood of calls costs one database query, one Redis
connection and one broadcast ping to the workers per web process and interval, and a Redis that
hangs costs one timeout per interval, not one per call (nor any while this process already
goes without it: core.failopen).
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
CHECK_TTL_S = 10.0

_lock = threading.Lock()
# (scope, Redis URL, broker URL) -> (time.monotonic(), healthy, report)
_kept: dict[tuple[str, str, str], tuple[float, bool, dict[str, Any]]] = {}


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version'), postgis_lib_version()")
            pg_version, postgis_version = cursor.fetchone()
    except Exception as exc:
        return {"status": "down", "error": _first_line(exc)}
    return {"status": "ok", "postgresql": pg_version, "postgis": postgis_version}


def check_redis() -> dict[str, Any]:
    outage = failopen.cache.outage()
    if outage is not None and failopen.cache.paused():
        return {"status": "down", "error": outage.error}  # not asked again during the pause
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
    """Workers answering a broadcast ping, and when the beat last had a heartbeat executed."""
    if not redis_ok:
        return {"status": "down", "error": "the broker (Redis) is unreachable"}
    result = _ping_celery(settings.CELERY_BROKER_URL)
    if result["status"] == "ok":
        last_beat = failopen.cache.call(lambda: cache.get(BEAT_CACHE_KEY), None)
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


def forget() -> None:
    """Check again at the next call (tests: a worker started or stopped meanwhile)."""
    with _lock:
        _kept.clear()


def _outage_state(breaker: failopen.Breaker) -> dict[str, Any]:
    """Whether this process reaches the dependency, since when not, and its last outage."""
    state: dict[str, Any] = {"reached": breaker.outage() is None}
    current = breaker.outage()
    if current is not None:
        state.update(
            since=current.since.isoformat(timespec="seconds"),
            error=current.error,
            calls_without=current.calls,
        )
    last = breaker.last_outage()
    if last is not None and last.ended is not None:
        state["last_outage"] = {
            "from": last.since.isoformat(timespec="seconds"),
            "to": last.ended.isoformat(timespec="seconds"),
            "calls_without": last.calls,
        }
    return state


def rate_limits(*, redis_ok: bool) -> dict[str, Any]:
    """Whether this process enforces the rate limits (core.failopen), and since when not."""
    state = _outage_state(failopen.cache)
    state["enforced"] = state.pop("reached") and redis_ok
    if redis_ok or "error" in state:
        return state
    return {**state, "since": None, "error": "the cache (Redis) is unreachable"}


def health_report(*, scope: str = "all") -> tuple[bool, dict[str, Any]]:
    """The checks and their details (for staff and monitoring; the public gets the status only),
    kept ``CHECK_TTL_S`` seconds (``checked_seconds_ago`` says how old they are).

    ``scope="web"``: what a web process needs to serve citizens, the database only (Redis and
    Celery are not needed to take a report, core.failopen): for the container's health check,
    so that a Redis outage does not take the web out of its proxy's rotation.
    """
    key = (scope, settings.REDIS_URL, settings.CELERY_BROKER_URL)
    with _lock:
        kept = _kept.get(key)
        if kept is None or time.monotonic() - kept[0] >= CHECK_TTL_S:
            kept = _kept[key] = (time.monotonic(), *_check(scope))
    checked_at, healthy, report = kept
    return healthy, {**report, "checked_seconds_ago": round(time.monotonic() - checked_at)}


def _check(scope: str) -> tuple[bool, dict[str, Any]]:
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
        report["task_publishing"] = _outage_state(failopen.broker)
    return not down, report


def record_beat() -> None:
    cache.set(BEAT_CACHE_KEY, time.time(), timeout=3600)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
