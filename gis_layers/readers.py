"""Reading vector files through GDAL (pyogrio): GeoJSON, GeoPackage, zipped Shapefile, CSV lon/lat.

An upload is hostile until proven otherwise. The format is decided by the file's content, and
must agree with the extension of the name it was sent under; then pyogrio opens it behind that
format's driver prefix (``GeoJSON:``, ``GPKG:``, ``CSV:``, or the Shapefile parts copied out of
the zip), in a process where only the portal's four drivers exist and no network request can
leave (core.gdal). A GeoPackage's SQLite schema and a zip's entries are checked in Python before
GDAL sees them (upload_checks). Geometries come out as WKB with the source SRID; reprojection
happens in PostGIS.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
from django.conf import settings
from django.utils.translation import gettext as _
from pyogrio import raw
from pyproj import CRS
from pyproj.exceptions import CRSError

from core import gdal

from .upload_checks import SHAPEFILE_PARTS, UnsafeUpload, check_geopackage, extract_shapefile

logger = logging.getLogger(__name__)

CSV_OPEN_OPTIONS = {
    "X_POSSIBLE_NAMES": "lon,longitude,lng,x",
    "Y_POSSIBLE_NAMES": "lat,latitude,y",
    "KEEP_GEOM_COLUMNS": "NO",
    "AUTODETECT_TYPE": "YES",
}
# Features per batch: what one read holds in memory (as Arrow, then as Python rows), whatever
# the size of the file.
BATCH_SIZE = 10_000


class ReadError(ValueError):
    """The file cannot be read as a layer; the message says why, in French."""


@contextmanager
def _behind_prefix(prefix: str, path: Path) -> Iterator[str]:
    yield f"{prefix}{path}"


@contextmanager
def _geopackage(path: Path) -> Iterator[str]:
    check_geopackage(path)
    yield f"GPKG:{path}"


@contextmanager
def _zipped_shapefile(path: Path) -> Iterator[str]:
    """The Shapefile's checked parts, copied next to the uploads (a volume sized for them, never
    /tmp) into a folder of their own, removed once GDAL has read them."""
    uploads = Path(settings.GRC_LAYER_IMPORT_DIR)
    uploads.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="read-", dir=uploads))
    try:
        max_bytes = settings.GRC_LAYER_IMPORT_MAX_UNZIPPED_BYTES
        yield str(extract_shapefile(path, workdir, max_bytes=max_bytes))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class Format:
    """How one accepted format is recognised and handed to GDAL."""

    label: str
    extensions: tuple[str, ...]  # a name with a known extension must agree with the content
    # The path GDAL opens, for as long as it reads: the upload behind the prefix that forces its
    # one driver, after the format's own checks (never a network or virtual file system).
    gdal_path: Callable[[Path], AbstractContextManager[str]]
    open_options: Mapping[str, str] = field(default_factory=dict)
    default_srid: int | None = None  # when the file names no CRS
    # GDAL knows the number of features without reading them all (a header, a table of
    # contents); otherwise counting would be one more pass over the file, and it is not asked.
    counted: bool = False


FORMATS = {
    "geojson": Format(
        "GeoJSON",
        (".geojson", ".json"),
        partial(_behind_prefix, "GeoJSON:"),
        default_srid=4326,  # RFC 7946
    ),
    "gpkg": Format("GeoPackage", (".gpkg",), _geopackage, counted=True),
    "shapefile": Format("Shapefile (zip)", (".zip",), _zipped_shapefile, counted=True),
    "csv": Format(
        "CSV",
        (".csv",),
        partial(_behind_prefix, "CSV:"),
        open_options=CSV_OPEN_OPTIONS,
        default_srid=4326,  # our CSV convention: WGS84 lon/lat
    ),
}
EXTENSIONS = {ext: key for key, fmt in FORMATS.items() for ext in fmt.extensions}
# Markers of GDAL's XML "virtual" formats, which name other files or URLs to read.
_VIRTUAL_MARKERS = (b"<ogrvrtdatasource", b"<vrtdataset", b"<gdal_wms", b"<gdaltileindexdataset")


Row = tuple[int, bytes | None, dict]  # (source feature number from 1, WKB or None, properties)


@dataclass
class SourceData:
    """An opened source: its metadata at once, its features in batches as they are read.

    ``batches`` reads the file while it is consumed (at most BATCH_SIZE features held at a
    time), so a read error may come from it as a ReadError. ``close()`` ends the read early
    (the file closed, a Shapefile's extracted parts removed); a fully consumed source closes
    itself.
    """

    format: str
    srid: int | None
    fields: list[str]
    count: int  # -1 when the driver cannot tell without reading the whole file
    batches: Iterator[list[Row]]
    opened: ExitStack = field(default_factory=ExitStack)  # what holds the file open

    @property
    def rows(self) -> Iterator[Row]:
        return chain.from_iterable(self.batches)

    def close(self) -> None:
        close = getattr(self.batches, "close", None)
        if close is not None:
            close()
        self.opened.close()  # a generator closed before its first batch never ran its own


def _sniff_content(head: bytes) -> str:
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"PK\x03\x04"):
        return "shapefile"
    if any(marker in head.lower() for marker in _VIRTUAL_MARKERS):
        raise ReadError(
            _(
                "Les fichiers virtuels de GDAL (VRT), qui renvoient vers d'autres fichiers ou "
                "adresses, sont refusés : envoyez les données elles-mêmes."
            )
        )
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "geojson"
    if text.startswith((b"<", b"\x89PNG", b"\xff\xd8", b"%PDF")):
        raise ReadError(_("Ce fichier n'est pas une couche SIG (HTML, SVG, image ou PDF ?)."))
    try:
        first_line = text.split(b"\n", 1)[0].decode("utf-8").lower()
    except UnicodeDecodeError:
        raise ReadError(_("Format de fichier non reconnu.")) from None
    columns = {c.strip().strip('"') for c in first_line.replace(";", ",").split(",")}
    if columns & {"lon", "longitude", "lng", "x"} and columns & {"lat", "latitude", "y"}:
        return "csv"
    raise ReadError(
        _("Format non reconnu : GeoJSON, GeoPackage, Shapefile zippé ou CSV avec colonnes lon/lat.")
    )


def sniff_format(path: Path, name: str | None = None) -> str:
    """The format from the first bytes (magic numbers), never from the extension alone.

    When the file came with a name (an upload), a known extension must agree with the content: a
    ``.csv`` that is a GeoPackage, or a ``.geojson`` that is a zip, is refused.
    """
    suffix = PurePosixPath((name or "").lower()).suffix
    if suffix in SHAPEFILE_PARTS:
        raise ReadError(
            _(
                "Un Shapefile s'envoie zippé : une archive .zip avec ses fichiers .shp, .shx, "
                ".dbf et .prj."
            )
        )
    with path.open("rb") as handle:
        head = handle.read(4096)
    fmt = _sniff_content(head)
    expected = EXTENSIONS.get(suffix)
    if expected is not None and expected != fmt:
        raise ReadError(
            _(
                "Le contenu du fichier (%(content)s) ne correspond pas à son extension "
                "« %(suffix)s »."
            )
            % {"content": FORMATS[fmt].label, "suffix": suffix}
        )
    return fmt


def _srid_of(crs: str | None) -> int | None:
    if not crs:
        return None
    try:
        return CRS.from_user_input(crs).to_epsg(min_confidence=70)
    except CRSError:
        return None


def _native(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value != value:  # NaN: no value
        return None
    if value is not None and not isinstance(value, str | int | float | bool):
        return str(value)
    return value


def _unreadable(fmt: str, exc: BaseException) -> ReadError:
    # GDAL's own words (English, and they may quote the file) stay in the log.
    logger.info("a %s upload could not be read: %r", fmt, exc)
    return ReadError(
        _(
            "Le fichier n'a pas pu être lu comme %(format)s : il est incomplet, corrompu ou "
            "d'une variante que le portail ne lit pas. Ouvrez-le dans QGIS et "
            "exportez-le à nouveau."
        )
        % {"format": FORMATS[fmt].label}
    )


# pyogrio's errors are RuntimeErrors (DataSourceError, DataLayerError...), Arrow's while a batch
# is read ArrowExceptions; a time limit or a lack of memory is not the file's fault and goes up
# to the import.
_GDAL_ERRORS = (RuntimeError, ValueError, TypeError, OSError, pa.ArrowException)


def _python_values(column: pa.Array) -> list:
    """One Arrow column as JSON-ready Python values (``_native``'s rules, vectorised where the
    type allows it)."""
    kind = column.type
    if pa.types.is_floating(kind):  # NaN: no value
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, kind), column)
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    ):
        return column.to_pylist()
    return [_native(v) for v in column.to_pylist()]


def _batches(
    fmt: str, stack: ExitStack, reader, fields: list[str], watch: gdal.NetworkWatch
) -> Iterator[list[Row]]:
    """The features, BATCH_SIZE at a time, numbered from 1 across batches; the file stays open
    (``stack``) until the last batch was read or the generator is closed."""
    with stack:
        number = 1
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except _GDAL_ERRORS as exc:
                _refuse_network(watch)
                raise _unreadable(fmt, exc) from None
            _refuse_network(watch)
            size = batch.num_rows
            if not size:
                continue
            columns = [_python_values(batch.column(i)) for i in range(len(fields))]
            # pyogrio puts the geometry (WKB) after the fields; a layer without one has none.
            if batch.num_columns > len(fields):
                geometry = batch.column(batch.num_columns - 1).to_pylist()
            else:
                geometry = [None] * size
            numbers = range(number, number + size)
            yield [
                (n, wkb, dict(zip(fields, values, strict=True)))
                for n, wkb, *values in zip(numbers, geometry, *columns, strict=True)
            ]
            number += size


def read_source(
    path: Path, *, source_srid: int | None = None, name: str | None = None
) -> SourceData:
    """Open a vector file and stream its features; raise ReadError with the reason if it cannot.

    The format, the CRS and the fields are known on return; the features are read in batches
    while ``batches`` (or ``rows``) is consumed, which may raise ReadError too. ``name`` is the
    name the file was sent under (its extension must match the content). Raises
    core.gdal.GdalNotHardened (never opens the file) if this process's GDAL was not hardened.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ReadError(_("Fichier introuvable."))
    fmt = sniff_format(path, name)
    spec = FORMATS[fmt]
    gdal.require_hardened()
    kwargs = {k.lower(): v for k, v in spec.open_options.items()}
    watch = gdal.watch_network()
    failure = None
    with ExitStack() as stack:
        try:
            gdal_path = stack.enter_context(spec.gdal_path(path))
            meta, reader = stack.enter_context(
                raw.open_arrow(
                    gdal_path,
                    batch_size=BATCH_SIZE,
                    use_pyarrow=True,
                    datetime_as_string=True,
                    **kwargs,
                )
            )
            count = pyogrio.read_info(gdal_path, **kwargs)["features"] if spec.counted else -1
        except UnsafeUpload as exc:
            raise ReadError(str(exc)) from None
        except _GDAL_ERRORS as exc:
            failure = exc
        _refuse_network(watch)  # what the file asked for explains any failure
        if failure is not None:
            raise _unreadable(fmt, failure)
        if source_srid is not None and _srid_of(f"EPSG:{source_srid}") != source_srid:
            raise ReadError(
                _("Le code EPSG %(srid)s est inconnu : vérifiez-le (2154 pour le Lambert-93).")
                % {"srid": source_srid}
            )
        srid = source_srid or _srid_of(meta.get("crs")) or spec.default_srid
        if srid is None:
            raise ReadError(
                _("Le système de coordonnées du fichier est inconnu : précisez son code EPSG.")
            )
        fields = [str(f) for f in meta["fields"]]
        # From here the source holds the open file: its last batch or close() closes it.
        opened = stack.pop_all()
    return SourceData(
        format=fmt,
        srid=srid,
        fields=fields,
        count=count,
        batches=_batches(fmt, opened, reader, fields, watch),
        opened=opened,
    )


def _refuse_network(watch: gdal.NetworkWatch) -> None:
    refused = watch.refused()
    if refused:
        raise ReadError(
            _(
                "Le fichier demande de télécharger « %(url)s » : les accès réseau sont refusés "
                "pendant un import, rien n'a été importé."
            )
            % {"url": refused[0][:200]}
        )
