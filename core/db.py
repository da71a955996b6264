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

import psycopg
from django.db import connection
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
