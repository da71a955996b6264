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
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"Database unreachable at {_redact(url)}: {reason}. Start PostgreSQL with PostGIS, "
            "or set DATABASE_URL=postgis://user:password@host:5432/name, or run `./grc run` "
            "to start a local one."
        )
    try:
        import kombu.exceptions
        import redis.exceptions
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, redis.exceptions.ConnectionError | kombu.exceptions.OperationalError):
        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0 (default)")
        return (
            f"Redis unreachable at {_redact(url)}: {exc}. Start Redis, or set "
            "REDIS_URL=redis://host:6379/0, or run `./grc run` to start a local one."
        )
    return None


def run_management_command(argv: list[str]) -> int:
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except Exception as exc:
        message = explain_service_error(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
    return 0
