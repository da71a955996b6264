"""The open data of the reports: files built by a Celery task, served as they are.

No request builds anything: the beat asks every hour (``stats.open_data_build``), and the task
writes the four files (CSV, XLSX, GeoJSON, GeoPackage) to GRC_OPEN_DATA_DIR only when the public
reports changed since the last build (a fingerprint of their rows) or the files are older than
GRC_OPEN_DATA_MAX_AGE_S (names of categories and services). They come from one snapshot
(REPEATABLE READ), each read through a server-side cursor and written straight to a file, under
a statement timeout and the task's time limits; they replace the old ones atomically, the
manifest last. Until the first build the view answers 503 with Retry-After and asks for one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import failopen

from . import exports

logger = logging.getLogger(__name__)

STEM = "signalements"
MANIFEST = "manifest.json"
FORMAT_VERSION = 2  # bump when the files' columns or content change: forces a rebuild
_LOCK = 7_245_301  # pg advisory lock: one build at a time, whichever worker runs it

# What the files hold, summed up: a change in any public report (created, edited, hidden,
# deleted, its category's public position) changes it.
_FINGERPRINT_SQL = """
    SELECT count(*), md5(COALESCE(string_agg(
        concat_ws(':', c.id, c.updated_at, c.status, c.closed_at, c.service_id,
                  c.commune_id, c.category_id, k.public_position),
        ',' ORDER BY c.id), ''))
    FROM tracking_citizenrequest c
    JOIN reports_report r ON r.citizenrequest_ptr_id = c.id
    LEFT JOIN routing_category k ON k.id = c.category_id
    WHERE NOT r.is_hidden AND NOT r.moderation_pending
"""


def directory() -> Path:
    return Path(settings.GRC_OPEN_DATA_DIR)


@dataclass(frozen=True)
class OpenDataFile:
    path: Path
    built_at: dt.datetime
    etag: str
    rows: int

    @property
    def filename(self) -> str:
        return f"{STEM}-libercourt-cahc-{timezone.localtime(self.built_at):%Y-%m-%d}" + (
            self.path.suffix
        )


def _manifest() -> dict | None:
    try:
        return json.loads((directory() / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def current(fmt: str) -> OpenDataFile | None:
    """The last built file of a format, or None before the first build."""
    manifest = _manifest()
    path = directory() / f"{STEM}.{fmt}"
    if manifest is None or fmt not in manifest.get("files", {}) or not path.is_file():
        return None
    return OpenDataFile(
        path=path,
        built_at=dt.datetime.fromisoformat(manifest["built_at"]),
        etag='"' + manifest["files"][fmt] + '"',
        rows=manifest["rows"],
    )


def _fingerprint() -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(_FINGERPRINT_SQL)
        rows, digest = cursor.fetchone()
    extra = f"{FORMAT_VERSION}:{settings.GRC_PUBLIC_PRECISION_M}"
    return rows, hashlib.sha256(f"{digest}:{extra}".encode()).hexdigest()[:32]


def _fresh(manifest: dict | None, fingerprint: str) -> bool:
    if manifest is None or manifest.get("fingerprint") != fingerprint:
        return False
    age = timezone.now() - dt.datetime.fromisoformat(manifest["built_at"])
    return age.total_seconds() < settings.GRC_OPEN_DATA_MAX_AGE_S


def open_data_build(*, force: bool = False) -> bool:
    """Write the open-data files if the public reports changed (or ``force``); True if built.
    Another build running (advisory lock) makes this one a no-op."""
    target = directory()
    target.mkdir(parents=True, exist_ok=True)
    outer = connection.in_atomic_block  # a test's transaction: its snapshot already
    with transaction.atomic():
        with connection.cursor() as cursor:
            if not outer:  # one snapshot for the fingerprint and the four files
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK])
            if not cursor.fetchone()[0]:
                return False
        exports.statement_timeout(settings.GRC_OPEN_DATA_STATEMENT_TIMEOUT_S)
        rows, fingerprint = _fingerprint()
        if not force and _fresh(_manifest(), fingerprint):
            return False
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=target))
        try:
            files = {}
            cols = exports.columns(open_data=True)
            for fmt in exports.CONTENT_TYPES:
                data = exports.export_rows(
                    exports.reports_for_open_data(), private=None, open_data=True
                )
                exports.write_file(fmt, data, cols, work / f"{STEM}.{fmt}")
                files[fmt] = f"{fingerprint[:16]}-{fmt}"
            manifest = {
                "fingerprint": fingerprint,
                "built_at": timezone.now().isoformat(),
                "rows": rows,
                "files": files,
            }
            (work / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            for fmt in files:
                os.replace(work / f"{STEM}.{fmt}", target / f"{STEM}.{fmt}")
            os.replace(work / MANIFEST, target / MANIFEST)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    logger.info("open data built: %s reports", rows)
    return True


def request_build() -> None:
    """Ask the worker for a build (the files are missing), at most once every few minutes;
    a broker or cache outage only delays it until the beat's next run."""
    from django.core.cache import cache

    from .tasks import open_data_build_task

    timeout = settings.GRC_OPEN_DATA_RETRY_AFTER_S
    if failopen.cache.call(lambda: cache.add("open-data:build-asked", 1, timeout=timeout), False):
        failopen.publish(open_data_build_task)
