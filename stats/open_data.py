"""The open data of the reports: files built by a Celery task, served as they are.

No request builds anything: the beat asks every hour (``stats.open_data_build``), and the task
writes the four files (CSV, XLSX, GeoJSON, GeoPackage) to GRC_OPEN_DATA_DIR only when what they
show changed since the last build (a fingerprint of the public reports' rows and of the names
they carry) or the files are older than GRC_OPEN_DATA_MAX_AGE_S. They come from one snapshot
(REPEATABLE READ) and one reading of the rows through a server-side cursor, each row written to
the four files as it comes, under a statement timeout and the task's time limits; they replace
the old ones atomically, the manifest last. Until the first build the view answers 503 with
Retry-After and asks for one.
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
FORMAT_VERSION = 4  # bump when the files' columns or content change: forces a rebuild
_LOCK = 7_245_301  # pg advisory lock: one build at a time, whichever worker runs it

# What the files show, summed up: the public reports' rows, each by the columns the files hold
# (its public point among them: a category made hidden or a new grid changes it), added up in
# any order (the sum of each row's 60-bit hash: no sort, no spill), and the names those columns
# carry (categories, domains, communes, organisations, services: small tables). A report
# created, changed, hidden or deleted, or a name changed, changes it.
_FINGERPRINT_SQL = """
    SELECT count(*),
           COALESCE(sum(('x' || left(md5(concat_ws('|', c.reference, c.channel, c.status,
               c.created_at, c.closed_at, c.due_at, c.category_id, c.commune_id,
               c.organisation_id, c.service_id, c.public_location::text)), 15))::bit(60)::bigint),
               0)::text
           || ':' || md5(concat_ws('|',
               (SELECT string_agg(concat_ws(':', id, name, domain_id), ',' ORDER BY id)
                FROM routing_category),
               (SELECT string_agg(concat_ws(':', id, name), ',' ORDER BY id)
                FROM organisations_domain),
               (SELECT string_agg(concat_ws(':', id, name, insee), ',' ORDER BY id)
                FROM territory_commune),
               (SELECT string_agg(concat_ws(':', id, name), ',' ORDER BY id)
                FROM organisations_organisation),
               (SELECT string_agg(concat_ws(':', id, name), ',' ORDER BY id)
                FROM organisations_service)))
    FROM tracking_citizenrequest c
    JOIN reports_report r ON r.citizenrequest_ptr_id = c.id
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
    return rows, hashlib.sha256(f"{digest}:{FORMAT_VERSION}".encode()).hexdigest()[:32]


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
            data = exports.export_rows(
                exports.reports_for_open_data(), private=None, open_data=True
            )
            paths = {fmt: work / f"{STEM}.{fmt}" for fmt in exports.CONTENT_TYPES}
            rows = exports.write_files(data, exports.columns(open_data=True), paths)
            files = {fmt: f"{fingerprint[:16]}-{fmt}" for fmt in paths}
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
