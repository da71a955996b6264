"""Run a management command, turning a missing service into one line that says how to fix it.

A newcomer who forgot to start PostgreSQL or Redis should read what is missing and how to provide
it, not a 60-line traceback.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _database_reason() -> str | None:
    """Why the database refuses, asked directly (the pool only says it timed out)."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("pool", None)
    params["connect_timeout"] = 3
    try:
        psycopg.connect(**params).close()
    except psycopg.Error as exc:
        return _first_line(exc).removeprefix("connection failed: ")
    return None


def explain_service_error(exc: BaseException) -> str | None:
    """The one-line explanation for a missing database or Redis, or None for other errors."""
    import os

    from django.core.exceptions import ImproperlyConfigured

    if isinstance(exc, ImproperlyConfigured):
        return f"Configuration error: {exc}"
    try:
        from django.db.utils import OperationalError as DbError
    except ImportError:  # pragma: no cover - Django is a dependency
        DbError = ()
    if isinstance(exc, DbError):
        url = os.environ.get("DATABASE_URL", "(DATABASE_URL not set)")
        reason = _database_reason() or _first_line(exc)
        return (
            f"Database unreachable at {_redact(url)}: {reason.rstrip('.')}. "
            "Start PostgreSQL with PostGIS, "
            "or set DATABASE_URL=postgis://user:password@host:5432/name, "
            "or run `./grc run` to start a local one."
        )
    try:
        import kombu.exceptions
        import redis.exceptions
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, redis.exceptions.ConnectionError | kombu.exceptions.OperationalError):
        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0 (default)")
        return (
            f"Redis unreachable at {_redact(url)}: {_first_line(exc).rstrip('.')}. "
            "Start Redis, or set REDIS_URL=redis://host:6379/0, "
            "or run `./grc run` to start a local one."
        )
    return None


def run_management_command(argv: list[str]) -> int:
    import logging

    from django.core.management import execute_from_command_line

    # The pool's background retries would print a warning per attempt before our one line.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)

    try:
        execute_from_command_line(argv)
    except Exception as exc:
        message = explain_service_error(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
    return 0
