"""Dependency checks behind /healthz: the database with PostGIS, Redis, and the Celery worker/beat.

Each check answers quickly (bounded by GRC_HEALTH_TIMEOUT) and never raises: it reports what is
down and why, so that an operator reads the name of the broken dependency.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

BEAT_CACHE_KEY = "health:beat:last"


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
    """Workers answering a broadcast ping, and when the beat last had a heartbeat executed."""
    if not redis_ok:
        return {"status": "down", "error": "the broker (Redis) is unreachable"}
    from config.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as connection:
            replies = app.control.ping(
                timeout=settings.GRC_HEALTH_TIMEOUT, limit=1, connection=connection
            )
    except Exception as exc:
        return {"status": "down", "error": _first_line(exc)}
    if not replies:
        return {"status": "down", "error": "no Celery worker answered the ping"}
    result: dict[str, Any] = {"status": "ok", "workers": [name for r in replies for name in r]}
    last_beat = cache.get(BEAT_CACHE_KEY)
    result["beat_age_seconds"] = round(time.time() - last_beat) if last_beat else None
    return result


def health_report() -> tuple[bool, dict[str, Any]]:
    checks = {"database": check_database(), "redis": check_redis()}
    checks["celery"] = check_celery(redis_ok=checks["redis"]["status"] == "ok")
    down = [name for name, check in checks.items() if check["status"] != "ok"]
    return not down, {"status": "ok" if not down else "error", "down": down, "checks": checks}


def record_beat() -> None:
    cache.set(BEAT_CACHE_KEY, time.time(), timeout=3600)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
