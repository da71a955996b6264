"""Checks on an uploaded GeoPackage or zipped Shapefile, done in Python before GDAL sees a byte.

A GeoPackage is an SQLite database: its schema may hold views, triggers, virtual tables and
generated columns, any of which could make SQLite or GDAL reach beyond the file. Only what the
GeoPackage specification and GDAL create themselves is accepted.

A zip is only ever a Shapefile's parts: its names, sizes and kinds are checked, and the parts are
copied (a bounded number of bytes) under server-chosen names into a private folder.
"""

from __future__ import annotations

import re
import sqlite3
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from django.utils.translation import gettext as _

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


class UnsafeUpload(ValueError):
    """The file is refused before GDAL opens it; the message says why, in French."""


def check_geopackage(path: Path) -> None:
    """Refuse a GeoPackage whose schema could reach other files, databases or code.

    Opened read-only and immutable with Python's sqlite3 (never written, no journal read,
    schema not trusted, objects read as rows rather than loaded). Accepted: tables and indexes,
    the R-tree virtual tables of the geometry columns and the triggers that maintain them, GDAL's
    feature-count triggers and the specification's tile-matrix and metadata triggers. Refused:
    views, any other virtual table or trigger, generated columns, and any schema text with
    ATTACH, load_extension or PRAGMA.
    """
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        raise UnsafeUpload(_("GeoPackage illisible.")) from None
    try:
        con.execute("PRAGMA trusted_schema = OFF")
        # Read sqlite_master as data even where SQLite would refuse to load an object (a view
        # over another database is "malformed"): every object is judged here, by name and text.
        # The connection is read-only and immutable: nothing can be written.
        con.execute("PRAGMA writable_schema = ON")
        application_id = con.execute("PRAGMA application_id").fetchone()[0]
        objects = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        names = {name for _type, name, _tbl, _sql in objects}
        if application_id not in GPKG_APPLICATION_IDS or "gpkg_contents" not in names:
            raise UnsafeUpload(_("Ce fichier SQLite n'est pas un GeoPackage."))
        geometry_columns = set()
        if "gpkg_geometry_columns" in names:
            geometry_columns = {
                (str(t), str(c))
                for t, c in con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
            }
        for kind, name, table, sql in objects:
            _check_object(con, kind, str(name), str(table), sql or "", geometry_columns)
    except sqlite3.Error as exc:
        raise UnsafeUpload(
            _("GeoPackage illisible : %(reason)s") % {"reason": str(exc)[:200]}
        ) from None
    finally:
        con.close()


def _check_object(con, kind: str, name: str, table: str, sql: str, geometry_columns) -> None:
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
    if kind == "trigger" and not _allowed_trigger(name, table, geometry_columns):
        raise UnsafeUpload(
            _(
                "Le GeoPackage est refusé : il contient un déclencheur (trigger) « %(name)s » "
                "qui n'est pas l'un de ceux de la norme GeoPackage."
            )
            % {"name": name}
        )
    if kind == "table" and re.match(r"\s*create\s+virtual\s+table", sql, re.IGNORECASE):
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


def _shapefile_parts(entries: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """The zip entries of the one Shapefile, by extension; refuses anything else."""
    if len(entries) > MAX_ZIP_ENTRIES:
        raise UnsafeUpload(
            _("L'archive est refusée : plus de %(n)s fichiers.") % {"n": MAX_ZIP_ENTRIES}
        )
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

    Refused: more than MAX_ZIP_ENTRIES entries, unsafe names (absolute, ``..``, backslashes,
    drive letters, symbolic links), encryption, nested archives or any other file kind, not
    exactly one .shp with its .shx and .dbf next to it, more than ``max_bytes`` uncompressed
    (counted while copying, not trusted from the zip's directory), parts that are not what their
    extension says (a .shp that is text, e.g. a VRT). Returns the path of the copied .shp.
    """
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
