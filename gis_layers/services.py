"""Writes on layers: create, import (replace atomically), and the demo equipment layers."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    models,
    transaction,
)
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg.types.json import Jsonb

from core import failopen
from organisations.models import Domain, Organisation

from .models import Feature, Layer, LayerImport
from .readers import BATCH_SIZE, ReadError, Row, SourceData, read_source

logger = logging.getLogger(__name__)

STORAGE_SRID = settings.GRC_STORAGE_SRID
MAX_VERTICES = 100_000  # per feature: beyond this a geometry is refused, not stored
MAX_REPORTED_ERRORS = 500
# work_mem of an import's insert (server memory, for that one statement): 1,000,000 points are
# stored in 20 s instead of 33 s with the default 4 MB (bench/run_import.py).
IMPORT_WORK_MEM = "256MB"
# Metropolitan France in Lambert-93 (with a margin): catches swapped lat/lon and wrong SRIDs.
FRANCE_2154 = (-100_000, 6_000_000, 1_300_000, 7_200_000)
_BASE_TYPE = {
    "Point": "POINT",
    "MultiPoint": "POINT",
    "LineString": "LINESTRING",
    "MultiLineString": "LINESTRING",
    "Polygon": "POLYGON",
    "MultiPolygon": "POLYGON",
}

Progress = Callable[[str, int, int], None]  # (stage, done, total), total 0 when unknown


@dataclass
class ImportResult:
    total: int = 0
    imported: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)


def _accepted_types(geometry_type: str) -> list[str] | None:
    """What PostGIS's GeometryType() answers for the layer's type and its multi form."""
    if geometry_type == "Geometry":
        return None
    base = _BASE_TYPE[geometry_type]
    return [base, "MULTI" + base]


_CHECK_AND_STORE = f"""
    WITH checked AS MATERIALIZED (
        SELECT n, ref, props, owner, geom, CASE
            WHEN geom IS NULL THEN 'géométrie absente'
            WHEN ST_IsEmpty(geom) THEN 'géométrie vide'
            WHEN ST_NPoints(geom) > %(max_vertices)s
                THEN 'géométrie trop grande (' || ST_NPoints(geom)
                     || ' sommets, maximum ' || %(max_vertices)s || ')'
            WHEN %(accepted)s::text[] IS NOT NULL
                 AND NOT (GeometryType(geom) = ANY (%(accepted)s::text[]))
                THEN 'type ' || ST_GeometryType(geom) || ' au lieu de ' || %(geometry_type)s
            WHEN NOT ST_IsValid(geom) THEN 'géométrie invalide : ' || ST_IsValidReason(geom)
            WHEN NOT ST_Within(geom, ST_MakeEnvelope(
                    %(minx)s, %(miny)s, %(maxx)s, %(maxy)s, {STORAGE_SRID}))
                THEN 'hors de France métropolitaine (latitude et longitude inversées, '
                     'ou mauvais système de coordonnées ?)'
        END AS reason
        FROM (
            SELECT n, ref, props, owner, CASE WHEN octet_length(wkb) > 0 THEN ST_Transform(
                ST_SetSRID(ST_GeomFromWKB(wkb), %(source_srid)s), {STORAGE_SRID}) END AS geom
            FROM layer_staging
        ) AS source
    ), stored AS (
        INSERT INTO gis_layers_feature (layer_id, ref, geom, properties, owner_organisation_id)
        SELECT %(layer)s, ref, geom, props || jsonb_build_object('ref', ref), owner
        FROM checked WHERE reason IS NULL ORDER BY n
    )
    SELECT n, ref, reason, count(*) OVER () FROM checked
    WHERE reason IS NOT NULL ORDER BY n LIMIT %(limit)s
"""


def _batched(rows: Iterable[Row], size: int = BATCH_SIZE) -> Iterator[list[Row]]:
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        yield batch


@transaction.atomic
def layer_replace_features(
    *,
    layer: Layer,
    rows: Iterable[Row] = (),
    batches: Iterable[list[Row]] | None = None,
    source_srid: int,
    ref_field: str | None = None,
    owner_field: str | None = None,
    progress: Progress | None = None,
    total: int = 0,
) -> ImportResult:
    """Replace all features of a layer with ``rows`` (or ``batches`` of rows), in one
    transaction.

    The rows are copied to a staging table as they come (a batch at a time: memory does not
    grow with the number of features), then one statement reprojects and checks them in PostGIS
    (readable, not empty, of the layer's type, not too many vertices, valid, inside
    metropolitan France once reprojected) and stores the good ones in place of the layer's
    features. Bad ones are reported by source number with the reason. Readers see the previous
    version until the commit; if anything fails (the file too, while it is read) the previous
    version stays as it was. ``progress`` gets (stage, done, total) after each batch; ``total``
    is 0 when unknown.
    """
    progress = progress or (lambda *_: None)
    owners = dict(Organisation.objects.values_list("slug", "pk"))
    with connection.cursor() as cursor:
        # Dropped explicitly too: inside an outer transaction ON COMMIT comes too late.
        cursor.execute("DROP TABLE IF EXISTS layer_staging")
        cursor.execute(
            "CREATE TEMP TABLE layer_staging (n integer, ref text, wkb bytea, props jsonb, "
            "owner bigint) ON COMMIT DROP"
        )
        count = 0
        with cursor.cursor.copy(
            "COPY layer_staging (n, ref, wkb, props, owner) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int4", "text", "bytea", "jsonb", "int8"])
            for batch in _batched(rows) if batches is None else batches:
                for n, wkb, props in batch:
                    ref = str(props.get(ref_field) or "") if ref_field else ""
                    owner = owners.get(str(props.get(owner_field))) if owner_field else None
                    copy.write_row((n, ref or str(n), wkb, Jsonb(props), owner))
                count += len(batch)
                progress("lecture", count, total)
        progress("contrôle", count, count)
        accepted = _accepted_types(layer.geometry_type)
        minx, miny, maxx, maxy = FRANCE_2154
        referrers = _detach_referrers(cursor, layer)
        cursor.execute("DELETE FROM gis_layers_feature WHERE layer_id = %s", [layer.pk])
        # Memory for this statement's sort and for merging the GIN index's pending entries
        # (what most of the time of a large insert goes to at the default 4 MB), then back to
        # what it was.
        cursor.execute("SELECT current_setting('work_mem')")
        work_mem = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('work_mem', %s, true)", [IMPORT_WORK_MEM])
        cursor.execute(
            _CHECK_AND_STORE,
            {
                "max_vertices": MAX_VERTICES,
                "accepted": accepted,
                "geometry_type": layer.geometry_type,
                "minx": minx,
                "miny": miny,
                "maxx": maxx,
                "maxy": maxy,
                "source_srid": source_srid,
                "layer": layer.pk,
                "limit": MAX_REPORTED_ERRORS,
            },
        )
        found = cursor.fetchall()
        cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
        errors = [{"feature": n, "ref": ref, "reason": reason} for n, ref, reason, _ in found]
        rejected = found[0][3] if found else 0
        imported = count - rejected
        _relink_referrers(cursor, layer, referrers, by_ref=bool(ref_field))
        progress("remplacement", count, count)
        cursor.execute(
            "SELECT ST_Envelope(ST_Extent(geom)::geometry) FROM gis_layers_feature "
            "WHERE layer_id = %s",
            [layer.pk],
        )
        extent = cursor.fetchone()[0]
        cursor.execute("DROP TABLE layer_staging")
        # The planner's statistics of the new rows (the layer's share of the table, where its
        # features are), read by every page's plan (selectors._page_sql): until autovacuum
        # samples them a new large layer is planned as if it were empty. ANALYZE samples 30,000
        # rows whatever the table's size; its lock waits for another import's commit.
        cursor.execute("ANALYZE gis_layers_feature")
    Layer.objects.filter(pk=layer.pk).update(
        feature_count=imported,
        data_version=F("data_version") + 1,  # not the value read before the transaction
        updated_at=timezone.now(),
    )
    _set_extent(layer, extent)
    layer.refresh_from_db()
    progress("terminé", count, count)
    return ImportResult(total=count, imported=imported, rejected=rejected, errors=errors)


def _referrer_columns() -> list[tuple[str, str, str]]:
    """(table, primary key, column) of every foreign key to a feature that is set to null when
    the feature goes (a report's equipment): found in the models' metadata, so that this app
    never names the apps above it."""
    found = []
    for relation in Feature._meta.related_objects:
        if relation.on_delete is models.SET_NULL and relation.field.concrete:
            meta = relation.related_model._meta
            found.append((meta.db_table, meta.pk.column, relation.field.column))
    return found


def _detach_referrers(cursor, layer: Layer) -> list[tuple[str, str, str]]:
    """Before a replace deletes the layer's features: remember which rows point at which of
    them (by the feature's identifier) and set those references to null, as deleting the
    features through the ORM would. Without it a re-import of a layer whose equipment had
    reports failed at commit on the foreign key."""
    quote = connection.ops.quote_name
    columns = _referrer_columns()
    cursor.execute("DROP TABLE IF EXISTS layer_referrers")
    cursor.execute(
        "CREATE TEMP TABLE layer_referrers (rel int, pk bigint, ref text) ON COMMIT DROP"
    )
    for rel, (table, pk, column) in enumerate(columns):
        cursor.execute(
            f"INSERT INTO layer_referrers SELECT %s, r.{quote(pk)}, f.ref "
            f"FROM {quote(table)} r JOIN gis_layers_feature f ON f.id = r.{quote(column)} "
            f"WHERE f.layer_id = %s",
            [rel, layer.pk],
        )
        cursor.execute(
            f"UPDATE {quote(table)} SET {quote(column)} = NULL WHERE {quote(column)} IN "
            f"(SELECT id FROM gis_layers_feature WHERE layer_id = %s)",
            [layer.pk],
        )
    return columns


def _relink_referrers(cursor, layer: Layer, columns, *, by_ref: bool) -> None:
    """After the replace: point each remembered reference at the new feature with the same
    identifier (the plate on the streetlight, which a re-import keeps), the first one when
    several share it; the others stay null. Identifiers made from the file's row numbers (no
    identifier field) name no equipment: nothing is linked again."""
    quote = connection.ops.quote_name
    if by_ref:
        for rel, (table, pk, column) in enumerate(columns):
            cursor.execute(
                f"UPDATE {quote(table)} r SET {quote(column)} = f.id FROM layer_referrers l "
                f"JOIN (SELECT DISTINCT ON (ref) ref, id FROM gis_layers_feature "
                f"WHERE layer_id = %s ORDER BY ref, id) f ON f.ref = l.ref "
                f"WHERE l.rel = %s AND r.{quote(pk)} = l.pk",
                [layer.pk, rel],
            )
    cursor.execute("DROP TABLE layer_referrers")


def _set_extent(layer: Layer, extent_wkb) -> None:
    from django.contrib.gis.geos import GEOSGeometry, Polygon

    if extent_wkb is None:
        Layer.objects.filter(pk=layer.pk).update(extent=None)
        return
    geom = GEOSGeometry(extent_wkb)
    geom.srid = STORAGE_SRID
    if geom.geom_type != "Polygon":  # a single point or a flat line: pad to a tiny box
        geom = Polygon.from_bbox(geom.buffer(1).extent)
        geom.srid = STORAGE_SRID
    Layer.objects.filter(pk=layer.pk).update(extent=geom)


def progress_key(import_id: int) -> str:
    return f"layer-import:{import_id}:progress"


def _read_for_import(
    *, path: Path, source_srid: int | None, ref_field: str | None, source_name: str | None
) -> SourceData:
    """Open the file (its features are read later, in batches, by ``_apply_import``)."""
    source = read_source(path, source_srid=source_srid, name=source_name or Path(path).name)
    if ref_field and ref_field not in source.fields:
        source.close()
        raise ReadError(
            _("Le champ identifiant « %(field)s » n'existe pas dans le fichier.")
            % {"field": ref_field}
        )
    return source


@transaction.atomic
def _apply_import(
    *,
    layer: Layer,
    source: SourceData,
    ref_field: str | None,
    owner_field: str | None,
    progress: Progress | None,
) -> ImportResult:
    """Stream the opened source into the layer (closing it), in one transaction."""
    try:
        result = layer_replace_features(
            layer=layer,
            batches=source.batches,
            source_srid=source.srid,
            ref_field=ref_field,
            owner_field=owner_field,
            progress=progress,
            total=max(source.count, 0),
        )
    finally:
        source.close()
    if not layer.attribute_schema and source.fields:
        Layer.objects.filter(pk=layer.pk).update(
            attribute_schema=[{"name": f, "type": "string", "label": f} for f in source.fields]
        )
    return result


def layer_import_file(
    *,
    layer: Layer,
    path: Path,
    source_srid: int | None = None,
    ref_field: str | None = None,
    owner_field: str | None = None,
    progress: Progress | None = None,
    source_name: str | None = None,
) -> tuple[ImportResult, str, int]:
    """Read a file through GDAL, in batches, and replace the layer with it. Raises ReadError on
    a bad file (then the layer is left as it was).

    ``source_name`` is the name the file was sent under (default: its own): a known extension
    must match the content.
    """
    source = _read_for_import(
        path=path, source_srid=source_srid, ref_field=ref_field, source_name=source_name
    )
    result = _apply_import(
        layer=layer, source=source, ref_field=ref_field, owner_field=owner_field, progress=progress
    )
    return result, source.format, source.srid


def layer_import_start(
    *,
    layer: Layer,
    path: Path,
    source_name: str,
    created_by=None,
    ref_field: str = "",
    source_srid: int | None = None,
) -> LayerImport:
    """Record an import and queue it for a worker once the record is committed."""
    record = LayerImport.objects.create(
        layer=layer,
        source_name=source_name,
        source_path=str(path),
        created_by=created_by,
        source_srid=source_srid,
        ref_field=ref_field,
    )
    transaction.on_commit(lambda: layer_import_queue(record.pk))
    return record


def layer_import_queue(import_id: int) -> bool:
    """Ask a worker for the import; with the broker down the record stays unqueued and
    ``layer_imports_sweep`` asks again (never an error for the manager who uploaded it)."""
    from .tasks import layer_import_task

    if not failopen.publish(layer_import_task, import_id=import_id):
        return False
    LayerImport.objects.filter(pk=import_id).update(queued_at=Now())
    return True


# An import still pending this long after its upload, never queued, was not published.
UNQUEUED_AFTER = timedelta(minutes=1)
# A queued import still pending after this long lost its message (the broker's data lost).
REQUEUE_AFTER = timedelta(hours=6)
# Runs that may claim one import: a file that kills its worker (memory, time limit) or keeps
# meeting database errors is failed at the next claim instead of being taken up again.
MAX_ATTEMPTS = 3


def _stale_before():
    return Now() - timedelta(seconds=settings.GRC_LAYER_IMPORT_STALE_AFTER_S)


def _abandoned() -> Q:
    """Running, with a worker silent for longer than STALE: it died, or its run gave up on a
    database error and left the import to be taken over."""
    return Q(status=LayerImport.Status.RUNNING) & (
        Q(heartbeat_at__lt=_stale_before()) | Q(heartbeat_at__isnull=True)
    )


def layer_imports_sweep() -> int:
    """Queue the imports no worker is on; how many were queued. A duplicate delivery is
    harmless: ``layer_import_run`` claims an import once.

    Due: pending imports the broker never got (not queued a minute after the upload) or lost
    (queued six hours ago), and abandoned running imports (see ``_abandoned``), at most once per
    STALE interval each; the run that claims one of these fails it past MAX_ATTEMPTS.
    """
    pending = Q(status=LayerImport.Status.PENDING) & (
        Q(queued_at__isnull=True, created_at__lt=Now() - UNQUEUED_AFTER)
        | Q(queued_at__lt=Now() - REQUEUE_AFTER)
    )
    abandoned = _abandoned() & (Q(queued_at__isnull=True) | Q(queued_at__lt=_stale_before()))
    due = LayerImport.objects.filter(pending | abandoned)
    queued = 0
    for import_id in due.order_by("created_at").values_list("pk", flat=True):
        if not layer_import_queue(import_id):
            break
        queued += 1
    return queued


def _claim_import(import_id: int, claim: uuid.UUID) -> bool:
    """Take the import in one UPDATE: pending, or abandoned with attempts left."""
    return bool(
        LayerImport.objects.filter(pk=import_id)
        .filter(Q(status=LayerImport.Status.PENDING) | _abandoned())
        .filter(attempts__lt=MAX_ATTEMPTS)
        .update(
            status=LayerImport.Status.RUNNING,
            claim=claim,
            heartbeat_at=Now(),
            attempts=F("attempts") + 1,
        )
    )


def _give_up(import_id: int) -> bool:
    """Fail an abandoned import that used all its attempts (in one UPDATE, as a claim)."""
    return bool(
        LayerImport.objects.filter(pk=import_id)
        .filter(_abandoned(), attempts__gte=MAX_ATTEMPTS)
        .update(
            status=LayerImport.Status.FAILED,
            claim=None,
            finished_at=Now(),
            message=_(
                "L'import a échoué %(n)s fois : le fichier est peut-être trop lourd, ou le serveur "
                "était indisponible. Réessayez plus tard, ou découpez le fichier."
            )
            % {"n": MAX_ATTEMPTS},
        )
    )


def _still_claimed(import_id: int, claim: uuid.UUID):
    return LayerImport.objects.filter(pk=import_id, claim=claim, status=LayerImport.Status.RUNNING)


def _finish(import_id: int, claim: uuid.UUID, **outcome) -> bool:
    """Write the outcome if the claim is still this run's."""
    return bool(_still_claimed(import_id, claim).update(finished_at=Now(), **outcome))


class _Heartbeat:
    """Refreshes ``heartbeat_at`` every GRC_LAYER_IMPORT_HEARTBEAT_S from its own thread (so
    its own database connection, outside the run's transaction) until the run ends or loses its
    claim."""

    def __init__(self, import_id: int, claim: uuid.UUID) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat,
            args=(import_id, claim),
            name=f"layer-import-{import_id}-heartbeat",
            daemon=True,
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self, import_id: int, claim: uuid.UUID) -> None:
        try:
            while not self._stop.wait(settings.GRC_LAYER_IMPORT_HEARTBEAT_S):
                try:
                    if not _still_claimed(import_id, claim).update(heartbeat_at=Now()):
                        return  # finished, or taken over: the run's own checks decide
                except (DatabaseError, InterfaceError) as exc:
                    logger.warning("layer import %s: heartbeat not written: %s", import_id, exc)
                    # Django reconnects only once the broken connection is closed.
                    connection.close()
        finally:
            connection.close()  # this thread's connection


# A database that went away during a run (restart, failover, dropped connection): the run
# leaves the import running with its upload, and is taken over once STALE has passed.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def layer_import_run(*, import_id: int) -> LayerImport:
    """Run a recorded import (in a Celery worker) once, however often the broker delivers it.

    The run first claims the import with one UPDATE: a pending import, or an abandoned one (its
    worker has not beaten for GRC_LAYER_IMPORT_STALE_AFTER_S), if it has attempts left; an
    abandoned import past MAX_ATTEMPTS is failed instead. A delivery that cannot claim it (done,
    or another worker on it) changes nothing and returns the record as it is. While the file is
    read, a thread beats every GRC_LAYER_IMPORT_HEARTBEAT_S. The features are replaced and the
    outcome written in one transaction that first locks the record and checks that the claim is
    still this run's: a worker that was taken over changes neither the layer nor the record.

    A bad file fails the import with the reason; a database error (TRANSIENT_ERRORS) is raised
    with the import left running and its upload kept, for the sweep to queue it again; any other
    error fails it with a French message (the detail is logged). Progress goes to Redis (when it
    is up), the outcome to the record; the upload is deleted once the import has ended.
    """
    claim = uuid.uuid4()
    if not _claim_import(import_id, claim):
        if _give_up(import_id):
            logger.warning("layer import %s failed after %s attempts", import_id, MAX_ATTEMPTS)
            record = LayerImport.objects.get(pk=import_id)
            _discard_upload(Path(record.source_path))
        return LayerImport.objects.select_related("layer").get(pk=import_id)
    record = LayerImport.objects.select_related("layer").get(pk=import_id)

    def progress(stage: str, done: int, total: int) -> None:
        # shown on the import's page; without Redis the import goes on, unseen until done. The
        # total is 0 while the file does not tell it (GeoJSON, CSV): the page then shows what
        # was read so far, without a bar that would look full.
        value = {"stage": stage, "done": done, "total": total}
        failopen.cache.call(lambda: cache.set(progress_key(record.pk), value, 3600), None)

    with _Heartbeat(import_id, claim):
        try:
            finished = _run(record, claim, progress)
        except TRANSIENT_ERRORS:
            raise  # the import stays running, its upload kept: the sweep queues it again
        except ReadError as exc:
            finished = _fail(import_id, claim, str(exc))
        except SoftTimeLimitExceeded:
            logger.warning("layer import %s: time limit reached", import_id)
            finished = _fail(
                import_id,
                claim,
                _(
                    "L'import a dépassé la durée maximale (%(minutes)s min) : découpez le "
                    "fichier en plusieurs couches plus petites."
                )
                % {"minutes": round(settings.GRC_LAYER_IMPORT_TIME_LIMIT_S / 60)},
            )
        except Exception:
            logger.exception("layer import %s: unexpected error", import_id)
            finished = _fail(
                import_id,
                claim,
                _(
                    "L'import a échoué sur une erreur inattendue du serveur (import n° %(id)s, "
                    "détail dans le journal du serveur). Réessayez plus tard ; si l'erreur "
                    "revient, signalez-la à l'administrateur du portail."
                )
                % {"id": import_id},
            )
    if finished:
        _discard_upload(Path(record.source_path))
    return LayerImport.objects.select_related("layer").get(pk=import_id)


def _run(record: LayerImport, claim: uuid.UUID, progress: Progress) -> bool:
    """Open the upload, then read it into the layer and record the success in one transaction;
    False if the import was taken over meanwhile (nothing written)."""
    source = _read_for_import(
        path=Path(record.source_path),
        source_srid=record.source_srid,
        ref_field=record.ref_field or None,
        source_name=record.source_name,
    )
    with closing(source), transaction.atomic():
        if not _still_claimed(record.pk, claim).select_for_update().values_list("pk", flat=True):
            return False
        result = _apply_import(
            layer=record.layer,
            source=source,
            ref_field=record.ref_field or None,
            owner_field=None,
            progress=progress,
        )
        return _finish(
            record.pk,
            claim,
            status=LayerImport.Status.SUCCEEDED,
            source_format=source.format,
            source_srid=source.srid,
            total=result.total,
            imported=result.imported,
            rejected=result.rejected,
            errors=result.errors,
            message="",
        )


def _fail(import_id: int, claim: uuid.UUID, message: str) -> bool:
    return _finish(import_id, claim, status=LayerImport.Status.FAILED, message=message)


def _discard_upload(path: Path) -> None:
    """Delete an uploaded source once imported (its folder too), never a file outside uploads."""
    uploads = Path(settings.GRC_LAYER_IMPORT_DIR).resolve()
    path = path.resolve()
    if uploads in path.parents and path.is_file():
        path.unlink()
        if path.parent != uploads and not any(path.parent.iterdir()):
            path.parent.rmdir()


@transaction.atomic
def demo_layers_load(*, seed: int = 62907) -> list[Layer]:
    """Create or refresh Libercourt's synthetic equipment layers (deterministic for a seed).

    Each layer belongs to the organisation that owns its equipment (glass and textile points are
    the CAHC's) and is managed by the service handling its domain there.
    """
    from organisations.selectors import handling_service

    from .demo_layers import generate_libercourt_layers

    libercourt = Organisation.objects.get(commune__insee="62907")
    cahc = Organisation.objects.get(kind=Organisation.Kind.EPCI, epci__communes__insee="62907")
    owners = {"commune": libercourt, "epci": cahc}
    domains = {d.slug: d for d in Domain.objects.all()}
    layers = []
    for demo in generate_libercourt_layers(seed=seed):
        owner = owners[demo.features[0].owner] if demo.features else libercourt
        domain = domains.get(demo.domain)
        layer, _ = Layer.objects.update_or_create(
            slug=demo.slug,
            defaults={
                "name": demo.name,
                "description": demo.description,
                "owner_organisation": owner,
                "owner_service": handling_service(owner, domain) if domain else None,
                "domain": domain,
                "geometry_type": demo.geometry_type,
                "attribute_schema": demo.attribute_schema,
                "identifier_label": "Numéro",
                "licence": "Licence Ouverte 2.0 (Etalab)",
                "attribution": "Données synthétiques de démonstration – portail citoyen Libercourt",
                "is_synthetic": True,
                "visibility": Layer.Visibility.PUBLIC,
            },
        )
        rows = (
            (n, f.geom.wkb, {**f.properties, "ref": f.ref, "owner": owners[f.owner].slug})
            for n, f in enumerate(demo.features, start=1)
        )
        layer_replace_features(
            layer=layer,
            rows=rows,
            source_srid=STORAGE_SRID,
            ref_field="ref",
            owner_field="owner",
        )
        layers.append(layer)
    return layers
