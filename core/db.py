"""Cursors for the few statements the portal runs many times a second with new values.

Django's psycopg 3 cursors bind parameters on the client: every run sends a new literal text
that PostgreSQL parses again. ``bound_cursor()`` gives a cursor that binds them on the server
instead, so psycopg prepares a statement on a pooled connection once it has run there
``prepare_threshold`` times (5, in ``DATABASES["default"]["OPTIONS"]``); later runs skip
parsing and rewriting (PostgreSQL still chooses between a custom and a generic plan).

The cursor is a Django cursor wrapper: queries are logged and counted like any other (query
budgets in the tests). Only statements written for server-side binding go through it: every
parameter must have a type PostgreSQL can infer or is cast (``%(ids)s::bigint[]``).
Prepared statements live in the server session of a connection (kept by the worker, or
pooled), so they suit a direct connection or a session pooler (README, "Production-like
deployment").
"""

from __future__ import annotations

import select
import time

import psycopg
from django.db import connection, connections
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format


def bound_cursor():
    """A cursor on the request's connection that binds parameters on the server."""
    # As Django's cursors do: a kept connection is checked before a request's first statement.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    cursor = psycopg.Cursor(connection.connection)
    # timestamps loaded in Django's time zone, as its own cursors do (create_cursor)
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if connection.timezone != loader.timezone:
        register_tzloader(connection.timezone, cursor)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


# --- Health checks of kept connections -----------------------------------------------------------
# With CONN_HEALTH_CHECKS, Django pings a kept connection (SELECT 1, one round trip) before each
# request's first statement. As HikariCP's aliveBypassWindowMs does, the ping is skipped for a
# connection that finished a request less than CHECK_BYPASS_WINDOW seconds ago and whose socket
# has nothing to read: a server that ends a connection (restart, pg_terminate_backend, crash of
# the backend) closes its socket, which then reads as ready, and the ping is made. What this
# misses is a server gone silently within the window (a network cut): that request's first
# statement fails, and Django replaces the connection at the end of the request.
CHECK_BYPASS_WINDOW = 0.5  # seconds


def mark_connections_released(**kwargs) -> None:
    """request_finished receiver (after Django's): when each kept connection was last used."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            conn._grc_released_at = now


def _socket_ready(conn) -> bool:
    try:
        ready, _, _ = select.select([conn.connection.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True  # cannot tell: let Django ping it
    return bool(ready)


def bypass_recent_health_checks(**kwargs) -> None:
    """request_started receiver (after Django's close_old_connections, which asks for a check)."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        released = getattr(conn, "_grc_released_at", None)  # mark_connections_released
        if (
            conn.connection is not None
            and conn.health_check_enabled
            and not conn.health_check_done
            and released is not None
            and now - released < CHECK_BYPASS_WINDOW
            and not _socket_ready(conn)
        ):
            conn.health_check_done = True
