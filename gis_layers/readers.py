"""Reading vector files through GDAL (pyogrio): GeoJSON, GeoPackage, zipped Shapefile, CSV lon/lat.

The format is decided by the file's content, not its name: a disguised file is refused with the
reason. Geometries come out as WKB with the source SRID; reprojection happens in PostGIS.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyogrio
from pyogrio import raw
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

CSV_OPEN_OPTIONS = {
    "X_POSSIBLE_NAMES": "lon,longitude,lng,x",
    "Y_POSSIBLE_NAMES": "lat,latitude,y",
    "KEEP_GEOM_COLUMNS": "NO",
    "AUTODETECT_TYPE": "YES",
}
FORMATS = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shapefile": "Shapefile (zip)", "csv": "CSV"}


class ReadError(ValueError):
    """The file cannot be read as a layer; the message says why, in French."""


@dataclass
class SourceData:
    format: str
    srid: int | None
    fields: list[str]
    count: int
    rows: Iterator[tuple[int, bytes | None, dict]]  # (source feature number, WKB, properties)


def sniff_format(path: Path) -> str:
    """The format from the first bytes (magic numbers), never from the extension alone."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(path).namelist()
        except zipfile.BadZipFile:
            raise ReadError("Archive zip illisible.") from None
        if any(n.lower().endswith(".shp") for n in names):
            return "shapefile"
        raise ReadError("L'archive zip ne contient pas de fichier .shp.")
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


def read_source(path: Path, *, source_srid: int | None = None) -> SourceData:
    """Open a vector file and stream its features; raise ReadError with the reason if it cannot."""
    fmt = sniff_format(path)
    kwargs: dict = {"return_fids": False, "datetime_as_string": True}
    gdal_path: str | Path = path
    if fmt == "csv":
        kwargs.update({k.lower(): v for k, v in CSV_OPEN_OPTIONS.items()})
    if fmt == "shapefile":
        gdal_path = f"/vsizip/{path}"
    try:
        info = pyogrio.read_info(
            gdal_path,
            **({} if fmt != "csv" else {k.lower(): v for k, v in CSV_OPEN_OPTIONS.items()}),
        )
        meta, _fids, geometry, field_data = raw.read(gdal_path, **kwargs)
    except (DataSourceError, DataLayerError) as exc:
        raise ReadError(f"Fichier illisible par GDAL : {reason_of(exc)}") from None
    except Exception as exc:  # GDAL raises several error types for corrupt files
        raise ReadError(f"Fichier illisible : {reason_of(exc)}") from None
    srid = source_srid or _srid_of(meta.get("crs") or info.get("crs"))
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
