"""Checks on an uploaded GeoPackage or zipped Shapefile, done in Python before GDAL sees a byte.

A GeoPackage is an SQLite database: its schema may hold views, triggers, virtual tables and
generated columns, any of which could make SQLite or GDAL reach beyond the file. Only what the
GeoPackage specification and GDAL create themselves is accepted.

A zip is only ever a Shapefile's parts: its names, sizes and kinds are checked, and the parts are
copied (a bounded number of bytes) under server-chosen names into a private folder.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import stat
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

GPKG_APPLICATION_IDS = {0x47504B47, 0x47503130, 0x47503131}  # "GPKG", "GP10", "GP11"
# Tokens that have no business in the schema of a layer file, whatever object carries them.
_FORBIDDEN_SQL = re.compile(r"\b(attach|detach|load_extension|pragma|vacuum)\b", re.IGNORECASE)
_SPEC_TRIGGERS = re.compile(
    r"gpkg_tile_matrix_(zoom_level|matrix_width|matrix_height|pixel_x_size|pixel_y_size)"
    r"_(insert|update)"
    r"|gpkg_metadata_md_scope_(insert|update)"
    r"|gpkg_metadata_reference_(reference_scope|column_name|row_id_value|timestamp)"
    r"_(insert|update)"
)
_SPEC_TRIGGER_TABLES = {"gpkg_tile_matrix", "gpkg_metadata", "gpkg_metadata_reference"}
_RTREE_SUFFIXES = ("_insert", "_delete", *(f"_update{i}" for i in range(1, 8)))
_VIRTUAL_TABLE = re.compile(r"\s*create\s+virtual\s+table", re.IGNORECASE)


class UnsafeUpload(ValueError):
    """The file is refused before GDAL opens it; the message says why, in French."""


# Checking a GeoPackage reads only its schema and gpkg_geometry_columns: a few milliseconds for a
# real file. SQLite gives up (a progress handler) past this budget, whatever the file holds.
GPKG_CHECK_BUDGET_S = 5.0
MAX_SCHEMA_OBJECTS = 10_000  # tables, indexes, triggers: about 15 per layer


def check_geopackage(path: Path) -> None:
    """Refuse a GeoPackage whose schema could reach other files, databases or code.

    Opened read-only and immutable with Python's sqlite3 (never written, no journal read,
    schema not trusted, objects read as rows rather than loaded), under a time budget. The schema
    (sqlite_master) is judged before any table is read: views, and any object whose SQL holds
    ATTACH, load_extension or PRAGMA, are refused first, so that reading gpkg_geometry_columns
    (which must then be a plain table) runs no query of the file's. Accepted: tables and indexes,
    the R-tree virtual tables of the geometry columns and the triggers that maintain them, GDAL's
    feature-count triggers and the specification's tile-matrix and metadata triggers. Refused:
    views, any other virtual table or trigger, generated columns.
    """
    with sqlite_inspection(path) as con:
        application_id = con.execute("PRAGMA application_id").fetchone()[0]
        objects = con.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master LIMIT ?",
            (MAX_SCHEMA_OBJECTS + 1,),
        ).fetchall()
        if len(objects) > MAX_SCHEMA_OBJECTS:
            raise UnsafeUpload(
                _("Le GeoPackage est refusé : plus de %(n)s tables, index et déclencheurs.")
                % {"n": MAX_SCHEMA_OBJECTS}
            )
        objects = [(str(k), str(n), str(t), str(sql or "")) for k, n, t, sql in objects]
        kinds = {name: (kind, sql) for kind, name, _table, sql in objects}
        if application_id not in GPKG_APPLICATION_IDS or "gpkg_contents" not in kinds:
            raise UnsafeUpload(_("Ce fichier SQLite n'est pas un GeoPackage."))
        for kind, name, _table, sql in objects:
            _check_text(kind, name, sql)
        geometry_columns = set()
        if "gpkg_geometry_columns" in kinds:
            kind, sql = kinds["gpkg_geometry_columns"]
            if kind != "table" or _VIRTUAL_TABLE.match(sql):
                raise UnsafeUpload(
                    _("Le GeoPackage est refusé : sa table gpkg_geometry_columns n'en est pas une.")
                )
            geometry_columns = {
                (str(t), str(c))
                for t, c in con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
            }
        for kind, name, table, sql in objects:
            _check_object(con, kind, name, table, sql, geometry_columns)


@contextmanager
def sqlite_inspection(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to an uploaded SQLite file that can only read it, as data, for at most
    GPKG_CHECK_BUDGET_S; its errors become UnsafeUpload (in French, SQLite's words logged).

    Read-only and immutable (never written, no journal read); the schema is not trusted (no
    function of the file's runs from a view or trigger) and is readable as rows even where
    SQLite would refuse to load an object (a view over another database is "malformed").
    """
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        raise UnsafeUpload(_("GeoPackage illisible.")) from None
    deadline = time.monotonic() + GPKG_CHECK_BUDGET_S
    con.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        con.execute("PRAGMA trusted_schema = OFF")
        con.execute("PRAGMA writable_schema = ON")
        yield con
    except sqlite3.Error as exc:
        if time.monotonic() > deadline:
            raise UnsafeUpload(
                _("Le GeoPackage est refusé : l'examen de sa structure prend trop de temps.")
            ) from None
        logger.info("a GeoPackage upload could not be inspected: %s", exc)
        raise UnsafeUpload(_("GeoPackage illisible (fichier corrompu ?).")) from None
    finally:
        con.close()


def _check_text(kind: str, name: str, sql: str) -> None:
    """What is refused from the schema's text alone, before any table is read."""
    if _FORBIDDEN_SQL.search(sql):
        raise UnsafeUpload(
            _(
                "Le GeoPackage est refusé : « %(name)s » contient une instruction SQL interdite "
                "(ATTACH, load_extension ou PRAGMA)."
            )
            % {"name": name}
        )
    if kind == "view":
        raise UnsafeUpload(
            _(
                "Le GeoPackage est refusé : il contient une vue (« %(name)s »). Enregistrez les "
                "données dans une table (par exemple avec « Exporter » dans QGIS)."
            )
            % {"name": name}
        )
    if kind not in ("table", "index", "trigger"):
        raise UnsafeUpload(
            _("Le GeoPackage est refusé : objet « %(name)s » de type inconnu.") % {"name": name}
        )


def _check_object(con, kind: str, name: str, table: str, sql: str, geometry_columns) -> None:
    if kind == "trigger" and not _allowed_trigger(name, table, geometry_columns):
        raise UnsafeUpload(
            _(
                "Le GeoPackage est refusé : il contient un déclencheur (trigger) « %(name)s » "
                "qui n'est pas l'un de ceux de la norme GeoPackage."
            )
            % {"name": name}
        )
    if kind == "table" and _VIRTUAL_TABLE.match(sql):
        if not _allowed_rtree(name, sql, geometry_columns):
            raise UnsafeUpload(
                _(
                    "Le GeoPackage est refusé : il contient une table virtuelle (« %(name)s ») "
                    "qui pourrait lire d'autres fichiers."
                )
                % {"name": name}
            )
        return
    if kind == "table":
        hidden = [row[6] for row in con.execute("SELECT * FROM pragma_table_xinfo(?)", (name,))]
        if any(flag in (2, 3) for flag in hidden):
            raise UnsafeUpload(
                _("Le GeoPackage est refusé : la table « %(name)s » a des colonnes calculées.")
                % {"name": name}
            )


def _allowed_rtree(name: str, sql: str, geometry_columns) -> bool:
    module = re.search(r"\busing\s+(\w+)\s*\(", sql, re.IGNORECASE)
    return (
        module is not None
        and module.group(1).lower() == "rtree"
        and any(name == f"rtree_{t}_{c}" for t, c in geometry_columns)
    )


def _allowed_trigger(name: str, table: str, geometry_columns) -> bool:
    if _SPEC_TRIGGERS.fullmatch(name):
        return table in _SPEC_TRIGGER_TABLES
    for t, c in geometry_columns:
        if table == t and name in {f"rtree_{t}_{c}{suffix}" for suffix in _RTREE_SUFFIXES}:
            return True
        if table == t and name in {
            f"trigger_insert_feature_count_{t}",
            f"trigger_delete_feature_count_{t}",
        }:
            return True
    return False


# --- Zipped Shapefile ------------------------------------------------------------------------

SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg"}
# Sidecars that desktop GIS put in the zip: accepted, never given to GDAL.
IGNORED_PARTS = {".sbn", ".sbx", ".qix", ".qmd", ".xml", ".txt", ".pdf", ".html", ".htm"}
MAX_ZIP_ENTRIES = 50
# The central directory of 50 entries with ordinary names and extras takes a few KB.
MAX_ZIP_DIRECTORY_BYTES = 64 * 1024
# End of central directory record: signature, this disk, disk of the directory, entries on this
# disk, entries in all, directory size, directory offset, comment length (APPNOTE 4.3.16).
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_SHP_MAGIC = b"\x00\x00\x27\x0a"  # file code 9994, big-endian, in .shp and .shx
_DBF_VERSIONS = {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x43, 0x83, 0x8B, 0x8E, 0xCB, 0xF5, 0xFB}
_CHUNK = 1024 * 1024


def _suffix(name: str) -> str:
    lower = name.lower()
    return ".shp.xml" if lower.endswith(".shp.xml") else PurePosixPath(lower).suffix


def _check_entry_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = PurePosixPath(name).parts
    unsafe = (
        not name
        or name.startswith(("/", "\\"))
        or "\\" in name
        or ":" in name
        or any(ord(ch) < 32 for ch in name)
        or ".." in parts
        or stat.S_ISLNK(info.external_attr >> 16)
    )
    if unsafe:
        raise UnsafeUpload(
            _("L'archive est refusée : le nom « %(name)s » sort de l'archive ou n'est pas sûr.")
            % {"name": name[:100]}
        )
    if info.flag_bits & 0x1:
        raise UnsafeUpload(_("L'archive est refusée : elle contient des fichiers chiffrés."))
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnsafeUpload(_("L'archive est refusée : méthode de compression non prise en charge."))


def _check_zip_directory(archive: Path) -> None:
    """Refuse a zip from its end-of-central-directory record alone, before zipfile reads (and
    holds in memory) a directory of any size: more than MAX_ZIP_ENTRIES entries, a directory
    over MAX_ZIP_DIRECTORY_BYTES, Zip64, several volumes. Finds the record as zipfile does (the
    last 22 bytes, else the last signature within a maximal comment's reach), so that zipfile
    then reads the directory this record describes."""
    with archive.open("rb") as handle:
        size = handle.seek(0, 2)
        tail_size = min(size, _EOCD.size + 0xFFFF)
        handle.seek(size - tail_size)
        tail = handle.read(tail_size)
    at = len(tail) - _EOCD.size
    if at < 0 or tail[at : at + 4] != _EOCD_SIGNATURE:
        at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or len(tail) - at < _EOCD.size:
        raise UnsafeUpload(_("Archive zip illisible."))
    _sig, disk, directory_disk, disk_entries, entries, directory_size, directory_offset, _c = (
        _EOCD.unpack_from(tail, at)
    )
    locator = at - _ZIP64_LOCATOR.size
    zip64 = (locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR_SIGNATURE) or (
        0xFFFF in (disk, directory_disk, disk_entries, entries)
        or 0xFFFFFFFF in (directory_size, directory_offset)
    )
    if zip64:
        raise UnsafeUpload(
            _(
                "L'archive est refusée : le format Zip64 (archives de plus de 4 Go ou de plus de "
                "65 535 fichiers) n'est pas accepté pour un Shapefile."
            )
        )
    if disk or directory_disk or disk_entries != entries:
        raise UnsafeUpload(_("L'archive est refusée : elle est découpée en plusieurs volumes."))
    if entries > MAX_ZIP_ENTRIES:
        raise UnsafeUpload(_too_many_entries())
    if directory_size > MAX_ZIP_DIRECTORY_BYTES:
        raise UnsafeUpload(
            _("L'archive est refusée : son répertoire dépasse %(kb)s Ko (noms trop longs ?).")
            % {"kb": MAX_ZIP_DIRECTORY_BYTES // 1024}
        )


def _too_many_entries() -> str:
    return _("L'archive est refusée : plus de %(n)s fichiers.") % {"n": MAX_ZIP_ENTRIES}


def _shapefile_parts(entries: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """The zip entries of the one Shapefile, by extension; refuses anything else."""
    if len(entries) > MAX_ZIP_ENTRIES:  # a directory longer than its end record says
        raise UnsafeUpload(_too_many_entries())
    parts: dict[str, zipfile.ZipInfo] = {}
    stems = set()
    for info in entries:
        _check_entry_name(info)
        if info.is_dir():
            continue
        suffix = _suffix(info.filename)
        if suffix in IGNORED_PARTS or suffix == ".shp.xml":
            continue
        if suffix not in SHAPEFILE_PARTS:
            raise UnsafeUpload(
                _(
                    "L'archive est refusée : « %(name)s » n'est pas une partie d'un "
                    "Shapefile (.shp, .shx, .dbf, .prj, .cpg) ; les archives imbriquées et "
                    "les autres formats (VRT...) ne sont pas acceptés."
                )
                % {"name": info.filename[:100]}
            )
        if suffix in parts:
            raise UnsafeUpload(
                _("L'archive doit contenir un seul Shapefile (plusieurs fichiers %(ext)s).")
                % {"ext": suffix}
            )
        parts[suffix] = info
        stems.add(info.filename[: -len(suffix)].lower())
    if ".shp" not in parts:
        raise UnsafeUpload(_("L'archive zip ne contient pas de fichier .shp."))
    missing = [ext for ext in (".shx", ".dbf") if ext not in parts]
    if missing:
        raise UnsafeUpload(
            _("Le Shapefile est incomplet : il manque %(parts)s.") % {"parts": ", ".join(missing)}
        )
    if len(stems) != 1:
        raise UnsafeUpload(
            _(
                "Les fichiers du Shapefile doivent porter le même nom, dans le même dossier "
                "de l'archive."
            )
        )
    return parts


def extract_shapefile(archive: Path, into: Path, *, max_bytes: int) -> Path:
    """Copy the one Shapefile of ``archive`` into ``into`` as layer.shp/.shx/.dbf[/.prj/.cpg].

    Refused: more than MAX_ZIP_ENTRIES entries or a large directory (judged from the zip's end
    record, before its directory is read), Zip64, unsafe names (absolute, ``..``, backslashes,
    drive letters, symbolic links), encryption, nested archives or any other file kind, not
    exactly one .shp with its .shx and .dbf next to it, more than ``max_bytes`` uncompressed
    (counted while copying, not trusted from the zip's directory), parts that are not what their
    extension says (a .shp that is text, e.g. a VRT). Returns the path of the copied .shp.
    """
    _check_zip_directory(archive)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise UnsafeUpload(_("Archive zip illisible.")) from None
    with zf:
        parts = _shapefile_parts(zf.infolist())
        declared = sum(info.file_size for info in parts.values())
        if declared > max_bytes:
            raise UnsafeUpload(_too_big(max_bytes))
        budget = max_bytes
        for suffix, info in parts.items():
            target = into / f"layer{suffix}"
            budget -= _copy_bounded(zf, info, target, budget, max_bytes)
    _check_magic(into)
    return into / "layer.shp"


def _too_big(max_bytes: int) -> str:
    return _("L'archive est refusée : plus de %(mb)s Mo une fois décompressée.") % {
        "mb": max_bytes // (1024 * 1024)
    }


def _copy_bounded(zf: zipfile.ZipFile, info, target: Path, budget: int, max_bytes: int) -> int:
    written = 0
    try:
        with zf.open(info) as source, target.open("wb") as out:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > budget or written > info.file_size:
                    raise UnsafeUpload(_too_big(max_bytes))
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise UnsafeUpload(_("Archive zip illisible (fichier corrompu).")) from None
    return written


def _check_magic(folder: Path) -> None:
    for suffix in (".shp", ".shx"):
        with (folder / f"layer{suffix}").open("rb") as handle:
            if handle.read(4) != _SHP_MAGIC:
                raise UnsafeUpload(
                    _(
                        "Le fichier %(ext)s de l'archive n'est pas un Shapefile (son contenu "
                        "est d'un autre format)."
                    )
                    % {"ext": suffix}
                )
    with (folder / "layer.dbf").open("rb") as handle:
        first = handle.read(1)
        if not first or first[0] not in _DBF_VERSIONS:
            raise UnsafeUpload(_("Le fichier .dbf de l'archive n'est pas une table dBase."))
