"""Reading vector files through GDAL (pyogrio): GeoJSON, GeoPackage, zipped Shapefile, CSV lon/lat.

An upload is hostile until proven otherwise. The format is decided by the file's content, and
must agree with the extension of the name it was sent under; then GDAL opens it with that one
format's driver only (an explicit driver list, and a driver-prefixed path for pyogrio), in a
process where no other driver is registered and no network request can leave (core.gdal). A
GeoPackage's SQLite schema and a zip's entries are checked in Python before GDAL sees them
(upload_checks). Geometries come out as WKB with the source SRID; reprojection happens in PostGIS.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.utils.translation import gettext as _
from pyogrio import raw
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from core import gdal

from .upload_checks import UnsafeUpload, check_geopackage, extract_shapefile

CSV_OPEN_OPTIONS = {
    "X_POSSIBLE_NAMES": "lon,longitude,lng,x",
    "Y_POSSIBLE_NAMES": "lat,latitude,y",
    "KEEP_GEOM_COLUMNS": "NO",
    "AUTODETECT_TYPE": "YES",
}
FORMATS = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shapefile": "Shapefile (zip)", "csv": "CSV"}
# The one GDAL driver each format is opened with, and the prefix that forces it for pyogrio.
DRIVERS = {"geojson": "GeoJSON", "gpkg": "GPKG", "shapefile": "ESRI Shapefile", "csv": "CSV"}
_PREFIXES = {"geojson": "GeoJSON:", "gpkg": "GPKG:", "csv": "CSV:", "shapefile": ""}
EXTENSIONS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shapefile",
    ".csv": "csv",
}
# Markers of GDAL's XML "virtual" formats, which name other files or URLs to read.
_VIRTUAL_MARKERS = (b"<ogrvrtdatasource", b"<vrtdataset", b"<gdal_wms", b"<gdaltileindexdataset")


class ReadError(ValueError):
    """The file cannot be read as a layer; the message says why, in French."""


@dataclass
class SourceData:
    format: str
    srid: int | None
    fields: list[str]
    count: int
    rows: Iterator[tuple[int, bytes | None, dict]]  # (source feature number, WKB, properties)


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
        raise ReadError("Ce fichier n'est pas une couche SIG (HTML, SVG, image ou PDF ?).")
    try:
        first_line = text.split(b"\n", 1)[0].decode("utf-8").lower()
    except UnicodeDecodeError:
        raise ReadError("Format de fichier non reconnu.") from None
    columns = {c.strip().strip('"') for c in first_line.replace(";", ",").split(",")}
    if columns & {"lon", "longitude", "lng", "x"} and columns & {"lat", "latitude", "y"}:
        return "csv"
    raise ReadError(
        "Format non reconnu : GeoJSON, GeoPackage, Shapefile zippé ou CSV avec colonnes lon/lat."
    )


def sniff_format(path: Path, name: str | None = None) -> str:
    """The format from the first bytes (magic numbers), never from the extension alone.

    When the file came with a name (an upload), a known extension must agree with the content: a
    ``.csv`` that is a GeoPackage, or a ``.geojson`` that is a zip, is refused.
    """
    suffix = PurePosixPath((name or "").lower()).suffix
    if suffix in (".shp", ".shx", ".dbf", ".prj"):
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
            % {"content": FORMATS[fmt], "suffix": suffix}
        )
    return fmt


def _srid_of(crs: str | None) -> int | None:
    if not crs:
        return None
    try:
        return CRS.from_user_input(crs).to_epsg(min_confidence=70)
    except CRSError:
        return None


def reason_of(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


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


def read_source(
    path: Path, *, source_srid: int | None = None, name: str | None = None
) -> SourceData:
    """Open a vector file and stream its features; raise ReadError with the reason if it cannot.

    ``name`` is the name the file was sent under (its extension must match the content).
    """
    path = Path(path)
    if not path.is_file():
        raise ReadError(_("Fichier introuvable."))
    fmt = sniff_format(path, name)
    # Zip parts are copied next to the uploads (a volume sized for them), never under /tmp.
    uploads = Path(settings.GRC_LAYER_IMPORT_DIR)
    uploads.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="read-", dir=uploads))
    try:
        return _read(path, fmt, workdir, source_srid)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _gdal_path(path: Path, fmt: str, workdir: Path) -> str:
    """The path GDAL opens: the upload itself behind its driver's prefix, or the checked
    Shapefile parts copied out of the zip. Never a network or virtual file system."""
    try:
        if fmt == "gpkg":
            check_geopackage(path)
        if fmt == "shapefile":
            path = extract_shapefile(
                path, workdir, max_bytes=settings.GRC_LAYER_IMPORT_MAX_UNZIPPED_BYTES
            )
    except UnsafeUpload as exc:
        raise ReadError(str(exc)) from None
    return _PREFIXES[fmt] + str(path.resolve())


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


def _read(path: Path, fmt: str, workdir: Path, source_srid: int | None) -> SourceData:
    gdal_path = _gdal_path(path, fmt, workdir)
    options = CSV_OPEN_OPTIONS if fmt == "csv" else {}
    kwargs: dict = {"return_fids": False, "datetime_as_string": True}
    kwargs.update({k.lower(): v for k, v in options.items()})
    watch = gdal.watch_network()
    try:
        opened = gdal.open_vector(gdal_path, drivers=[DRIVERS[fmt]], open_options=options)
        _refuse_network(watch)
        if opened.driver != DRIVERS[fmt] or opened.layer_count < 1:
            raise gdal.GdalOpenError(_("aucune couche"))
        meta, _fids, geometry, field_data = raw.read(gdal_path, **kwargs)
        _refuse_network(watch)
    except gdal.GdalOpenError as exc:
        _refuse_network(watch)
        raise ReadError(
            _("Fichier illisible comme %(format)s : %(reason)s")
            % {"format": FORMATS[fmt], "reason": reason_of(exc)}
        ) from None
    except (DataSourceError, DataLayerError) as exc:
        _refuse_network(watch)
        raise ReadError(f"Fichier illisible par GDAL : {reason_of(exc)}") from None
    except (ReadError, gdal.GdalNotHardened):
        raise
    except Exception as exc:  # GDAL raises several error types for corrupt files
        _refuse_network(watch)
        raise ReadError(f"Fichier illisible : {reason_of(exc)}") from None
    srid = source_srid or _srid_of(meta.get("crs"))
    if srid is None:
        if fmt in ("geojson", "csv"):
            srid = 4326  # RFC 7946 and our CSV convention: WGS84 lon/lat
        else:
            raise ReadError(
                "Le système de coordonnées du fichier est inconnu : précisez son code EPSG."
            )
    fields = [str(f) for f in meta["fields"]]
    columns = [
        [_native(v) for v in column.tolist()] if hasattr(column, "tolist") else list(column)
        for column in field_data
    ]
    count = len(geometry) if geometry is not None else 0

    def rows() -> Iterator[tuple[int, bytes | None, dict]]:
        for index in range(count):
            props = {name: _native(columns[i][index]) for i, name in enumerate(fields)}
            wkb = geometry[index]
            yield index + 1, (bytes(wkb) if wkb is not None else None), props

    return SourceData(format=fmt, srid=srid, fields=fields, count=count, rows=rows())
