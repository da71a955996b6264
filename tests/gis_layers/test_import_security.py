"""Hostile layer files: nothing outside the upload is read, no request leaves, a clear refusal.

Each defence is shown on its own: GDAL itself, in the portal's process, refuses a bare VRT and
does not read what it names (the secret file's access time does not move, the local HTTP server
sees no connection); the driver prefixes alone keep even an unhardened GDAL from reading it; the
first-bytes sniff gives the manager a clear French reason (database-free cases of read_source);
the GeoPackage and zip checks refuse what GDAL should never open. A few cases go all the way
through what a manager's upload goes through (a LayerImport record run as the worker runs it),
into a layer that already holds one feature, which must stay unchanged.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pyogrio
import pytest
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command
from django.db import connection

from core import gdal
from gis_layers import upload_checks
from gis_layers.models import Feature, LayerImport
from gis_layers.readers import ReadError, read_source
from gis_layers.services import layer_import_file, layer_import_run

from .conftest import geojson_file

SECRET = "SECRET-6f1c2a"  # what must never show up in a layer nor in a message
TOWN_HALL = (3.01054, 50.480422)


class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)
        body = f"name,lon,lat\n{SECRET},3.01,50.48\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


class _RecordingServer(http.server.ThreadingHTTPServer):
    """Counts every TCP connection it accepts, before any HTTP parsing."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.connections = 0
        self.paths: list[str] = []

    def verify_request(self, request, client_address):
        self.connections += 1
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server():
    httpd = _RecordingServer()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def secret_csv(tmp_path):
    """A file of the server that an upload must not be able to read."""
    path = tmp_path / "server-side" / "secret.csv"
    path.parent.mkdir()
    path.write_text(f"name,lon,lat\n{SECRET},3.01,50.48\n")
    return path


@pytest.fixture
def untouched_secret(secret_csv):
    """The secret file, and a function telling whether anything read it since.

    Its access time is set before its modification time, so that the next read moves it
    (relatime, the default). Skipped where the mount does not record reads (noatime).
    """

    def set_atime_back() -> int:
        mtime = secret_csv.stat().st_mtime_ns
        os.utime(secret_csv, ns=(mtime - 3600 * 10**9, mtime))
        return secret_csv.stat().st_atime_ns

    before = set_atime_back()
    secret_csv.read_bytes()
    if secret_csv.stat().st_atime_ns == before:
        pytest.skip("this mount does not record reads (noatime): access times prove nothing")
    before = set_atime_back()
    return lambda: secret_csv.stat().st_atime_ns != before


@pytest.fixture
def bins(roads_layer, tmp_path):
    layer = roads_layer("corbeilles-securite")
    good = geojson_file(
        tmp_path,
        [
            {
                "type": "Feature",
                "properties": {"num": "KEEP-1"},
                "geometry": {"type": "Point", "coordinates": list(TOWN_HALL)},
            }
        ],
        "good.geojson",
    )
    layer_import_file(layer=layer, path=good, ref_field="num")
    layer.refresh_from_db()
    return layer


def run_import(layer, path, name):
    """Record and run an import as the intranet and the worker do."""
    record = LayerImport.objects.create(
        layer=layer, source_name=name, source_path=str(path), ref_field=""
    )
    return layer_import_run(import_id=record.pk)


def assert_refused_and_untouched(record, layer, fragment, *fragments, server=None):
    assert record.status == "failed", record.message
    assert fragment in record.message, record.message
    for fragment in fragments:
        assert fragment in record.message, record.message
    assert SECRET not in record.message
    assert list(Feature.objects.filter(layer=layer).values_list("ref", flat=True)) == ["KEEP-1"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM gis_layers_feature WHERE properties::text LIKE %s",
            [f"%{SECRET}%"],
        )
        assert cursor.fetchone()[0] == 0
    layer.refresh_from_db()
    assert layer.data_version == 1 and layer.feature_count == 1
    if server is not None:
        assert server.connections == 0 and server.paths == []


def vrt(source: str, *, prefix: str = "{ ") -> str:
    return (
        f"{prefix}<OGRVRTDataSource>\n"
        f'  <OGRVRTLayer name="secret">\n'
        f"    <SrcDataSource>{source}</SrcDataSource>\n"
        f"    <GeometryType>wkbPoint</GeometryType>\n"
        f'    <GeometryField encoding="PointFromColumns" x="lon" y="lat"/>\n'
        f"  </OGRVRTLayer>\n"
        f"</OGRVRTDataSource>\n"
    )


# --- GDAL's own configuration -----------------------------------------------------------------


def test_the_portal_process_has_only_its_four_drivers():
    assert gdal.is_hardened()
    assert set(pyogrio.list_drivers()) == {"GeoJSON", "GPKG", "ESRI Shapefile", "CSV"}


def test_no_network_file_system_reaches_a_server(server):
    for path in (
        f"/vsicurl/{server.url}/a.csv",
        f"/vsicurl_streaming/{server.url}/b.csv",
        f"/vsicurl?url={server.url}/c.csv",
    ):
        with pytest.raises(pyogrio.errors.DataSourceError):
            pyogrio.read_info(path)
    assert server.connections == 0


def test_gdal_itself_refuses_a_vrt_in_this_process(tmp_path, server, secret_csv, untouched_secret):
    """No sniffing here: the bare VRT goes straight to pyogrio, as itself and behind each
    driver prefix the readers use. Nothing reads the secret file, nothing reaches the server."""
    for n, source in enumerate((f"CSV:{secret_csv}", f"/vsicurl/{server.url}/internal.csv")):
        path = tmp_path / f"x{n}.vrt"
        path.write_text(vrt(source, prefix=""))
        with pytest.raises(pyogrio.errors.DataSourceError):
            pyogrio.raw.read(path)
        for prefix in ("GeoJSON:", "GPKG:", "CSV:"):
            try:
                _meta, _fids, _geometry, fields = pyogrio.raw.read(f"{prefix}{path}")
            except pyogrio.errors.DataSourceError:
                continue
            assert prefix == "CSV:"  # the XML read as lines of text, nothing it names
            assert SECRET not in repr([list(f) for f in fields])
    assert not untouched_secret()
    assert server.connections == 0 and server.paths == []


# An unhardened GDAL (pyogrio alone, all its drivers): prefixed reads first, then the bare one.
_UNHARDENED_READS = """
import json, os, sys
import pyogrio
path, secret = sys.argv[1:]
atime = os.stat(secret).st_atime_ns
seen = {}
for prefix in ("GeoJSON:", "GPKG:", "CSV:", ""):
    try:
        fields = pyogrio.raw.read(prefix + path)[3]
        seen[prefix] = repr([list(f) for f in fields])
    except Exception as exc:
        seen[prefix] = type(exc).__name__
    seen[prefix + " read the secret file"] = os.stat(secret).st_atime_ns != atime
print(json.dumps(seen))
"""


def test_the_driver_prefix_alone_keeps_a_vrt_from_being_followed(
    tmp_path, secret_csv, untouched_secret
):
    """What the readers' prefixes are worth without the hardening, in a plain GDAL where VRT
    exists: the file is not followed behind a prefix; the bare path (the control) is."""
    path = tmp_path / "x.vrt"
    path.write_text(vrt(f"CSV:{secret_csv}", prefix=""))
    out = subprocess.run(
        [sys.executable, "-c", _UNHARDENED_READS, str(path), str(secret_csv)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
    )
    seen = json.loads(out.stdout)
    for prefix in ("GeoJSON:", "GPKG:", "CSV:"):
        assert SECRET not in seen[prefix], seen
        assert seen[prefix + " read the secret file"] is False, seen
    assert SECRET in seen[""] and seen[" read the secret file"] is True, seen


# --- VRT disguised as an accepted format: what the manager is told -----------------------------

VRT_MESSAGE = "Les fichiers virtuels de GDAL (VRT)"
ZIPPED = "s'envoie zippé"
MISMATCH = "ne correspond pas à son extension"
NOT_GEOJSON = "n'a pas pu être lu comme GeoJSON"
# For each name a VRT was sent under: the refusal of the issue's shape (``{ <OGRVRT...``), of a
# bare VRT, and of a VRT hidden after 5,000 spaces (past the sniff's first 4 KB: GeoJSON's
# parser, behind its prefix, refuses it).
REFUSALS = {
    "couche.geojson": (VRT_MESSAGE, VRT_MESSAGE, NOT_GEOJSON),
    "couche.json": (VRT_MESSAGE, VRT_MESSAGE, NOT_GEOJSON),
    "couche.gpkg": (VRT_MESSAGE, VRT_MESSAGE, MISMATCH),
    "couche.csv": (VRT_MESSAGE, VRT_MESSAGE, MISMATCH),
    "couche.zip": (VRT_MESSAGE, VRT_MESSAGE, MISMATCH),
    "couche.shp": (ZIPPED, ZIPPED, ZIPPED),
    "couche.vrt": (VRT_MESSAGE, VRT_MESSAGE, NOT_GEOJSON),
    "couche": (VRT_MESSAGE, VRT_MESSAGE, NOT_GEOJSON),
}
SHAPES = ("{ ", "", "{" + " " * 5000)


@pytest.mark.parametrize("name", REFUSALS)
@pytest.mark.parametrize("shape", range(3), ids=["issue", "bare", "padded"])
def test_a_vrt_naming_a_server_file_is_refused(
    tmp_path, settings, secret_csv, untouched_secret, name, shape
):
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    upload = tmp_path / "upload" / "source"  # stored under a server-chosen name, as uploads are
    upload.parent.mkdir()
    upload.write_text(vrt(f"CSV:{secret_csv}", prefix=SHAPES[shape]))
    with pytest.raises(ReadError) as refused:
        read_source(upload, name=name)
    assert REFUSALS[name][shape] in str(refused.value)
    assert SECRET not in str(refused.value)
    assert not untouched_secret()


@pytest.mark.parametrize("name", REFUSALS)
def test_a_vrt_naming_a_url_makes_no_request(tmp_path, settings, server, name):
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    upload = tmp_path / "source"
    upload.write_text(vrt(f"/vsicurl/{server.url}/internal.csv"))
    with pytest.raises(ReadError) as refused:
        read_source(upload, name=name)
    assert REFUSALS[name][0] in str(refused.value)
    assert server.connections == 0


@pytest.mark.parametrize(
    ("name", "shape"), [("equipements.geojson", "{ "), ("couche", "{" + " " * 5000)]
)
def test_a_vrt_upload_is_refused_end_to_end(tmp_path, bins, secret_csv, name, shape):
    upload = tmp_path / "source"
    upload.write_text(vrt(f"CSV:{secret_csv}", prefix=shape))
    record = run_import(bins, upload, name)
    fragment = VRT_MESSAGE if shape == "{ " else NOT_GEOJSON
    assert_refused_and_untouched(record, bins, fragment)


def test_a_url_vrt_upload_makes_no_request_end_to_end(tmp_path, bins, server):
    upload = tmp_path / "source"
    upload.write_text(vrt(f"/vsicurl/{server.url}/internal.csv"))
    record = run_import(bins, upload, "couche.csv")
    assert_refused_and_untouched(record, bins, VRT_MESSAGE, server=server)


def test_the_management_command_shows_the_refusal(tmp_path, bins, secret_csv):
    upload = tmp_path / "equipements.geojson"
    upload.write_text(vrt(f"CSV:{secret_csv}"))
    with pytest.raises(CommandError, match="VRT") as caught:
        call_command("import_layer", bins.slug, str(upload))
    assert SECRET not in str(caught.value)
    assert list(Feature.objects.filter(layer=bins).values_list("ref", flat=True)) == ["KEEP-1"]


def test_a_geojson_crs_link_is_not_fetched(tmp_path, bins, server):
    upload = tmp_path / "source"
    upload.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "link", "properties": {"href": f"{server.url}/srs", "type": "wkt"}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"num": "NEW-1"},
                        "geometry": {"type": "Point", "coordinates": list(TOWN_HALL)},
                    }
                ],
            }
        )
    )
    record = run_import(bins, upload, "corbeilles.geojson")
    assert_refused_and_untouched(record, bins, "accès réseau sont refusés", server=server)


def test_content_must_match_the_extension(tmp_path, bins):
    upload = geojson_file(tmp_path, [], "source")
    record = run_import(bins, upload, "corbeilles.csv")
    assert_refused_and_untouched(record, bins, "ne correspond pas à son extension « .csv »")


# --- CSV -----------------------------------------------------------------------------------------


def test_paths_and_urls_in_csv_cells_stay_text(tmp_path, bins, server, secret_csv):
    cells = [f"/vsicurl/{server.url}/x.csv", f"CSV:{secret_csv}", str(secret_csv)]
    upload = tmp_path / "source"
    upload.write_text(
        "num,lon,lat,source\n"
        + "".join(f"C-{i},3.0111,50.4811,{cell}\n" for i, cell in enumerate(cells))
    )
    record = run_import(bins, upload, "corbeilles.csv")
    assert record.status == "succeeded" and record.imported == 3, record.message
    stored = Feature.objects.filter(layer=bins).order_by("pk").values_list("properties", flat=True)
    assert [p["source"] for p in stored] == cells
    assert SECRET not in json.dumps(list(stored))
    assert server.connections == 0


# --- Zipped Shapefile ----------------------------------------------------------------------------


def shapefile_parts(tmp_path):
    """A real one-point Shapefile written by GDAL: {extension: bytes}."""
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    pyogrio.raw.write(
        folder / "corbeilles.shp",
        np.array([bytes(Point(*TOWN_HALL).wkb)], dtype=object),
        [np.array(["Z-1"], dtype=object)],
        fields=["num"],
        geometry_type="Point",
        crs="EPSG:4326",
        driver="ESRI Shapefile",
    )
    return {p.suffix: p.read_bytes() for p in folder.iterdir()}


def make_zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_a_checked_zip_still_imports(tmp_path, bins):
    parts = shapefile_parts(tmp_path)
    archive = make_zip(tmp_path / "source", {f"dossier/corbeilles{k}": v for k, v in parts.items()})
    record = run_import(bins, archive, "corbeilles.zip")
    assert record.status == "succeeded" and record.imported == 1, record.message
    assert record.source_format == "shapefile" and record.source_srid == 4326


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("vrt-beside", "n'est pas une partie d'un Shapefile"),
        ("vrt-as-shp", "n'est pas un Shapefile"),
        ("traversal", "sort de l'archive"),
        ("absolute", "sort de l'archive"),
        ("nested-zip", "archives imbriquées"),
        ("two-shapefiles", "un seul Shapefile"),
        ("no-dbf", "il manque .dbf"),
    ],
)
def test_a_hostile_zip_is_refused(tmp_path, settings, secret_csv, server, case, fragment):
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    archive = hostile_zip(tmp_path, case, secret_csv, server)
    with pytest.raises(ReadError) as refused:
        read_source(archive, name="corbeilles.zip")
    assert fragment in str(refused.value)
    assert SECRET not in str(refused.value)
    assert server.connections == 0
    assert not (tmp_path.parent / "corbeilles.prj").exists()
    assert list((tmp_path / "imports").iterdir()) == []  # the parts' folder is gone


def test_a_hostile_zip_upload_is_refused_end_to_end(tmp_path, bins, secret_csv, server):
    archive = hostile_zip(tmp_path, "vrt-beside", secret_csv, server)
    record = run_import(bins, archive, "corbeilles.zip")
    assert_refused_and_untouched(record, bins, "n'est pas une partie d'un Shapefile", server=server)


def hostile_zip(tmp_path, case, secret_csv, server):
    parts = shapefile_parts(tmp_path)
    shp = {f"corbeilles{k}": v for k, v in parts.items()}
    evil_vrt = vrt(f"CSV:{secret_csv}")
    url_vrt = vrt(f"/vsicurl/{server.url}/internal.csv")
    entries = {
        "vrt-beside": {**shp, "couche.vrt": url_vrt},
        "vrt-as-shp": {**shp, "corbeilles.shp": evil_vrt},
        "traversal": {**shp, "../../corbeilles.prj": "GEOGCS[]"},
        "absolute": {**shp, "/etc/cron.d/corbeilles.cpg": "UTF-8"},
        "nested-zip": {**shp, "inner.zip": make_zip(tmp_path / "inner.zip", shp).read_bytes()},
        "two-shapefiles": {**shp, "autre.shp": parts[".shp"]},
        "no-dbf": {k: v for k, v in shp.items() if not k.endswith(".dbf")},
    }[case]
    return make_zip(tmp_path / "source", entries)


def test_a_zip_too_big_once_uncompressed_is_refused(tmp_path, bins, settings):
    settings.GRC_LAYER_IMPORT_MAX_UNZIPPED_BYTES = 1024 * 1024
    parts = shapefile_parts(tmp_path)
    entries = {f"corbeilles{k}": v for k, v in parts.items()}
    entries["corbeilles.dbf"] = parts[".dbf"] + b"\x00" * (2 * 1024 * 1024)  # compresses to ~2 KB
    archive = make_zip(tmp_path / "source", entries)
    assert archive.stat().st_size < 100_000
    record = run_import(bins, archive, "corbeilles.zip")
    assert_refused_and_untouched(record, bins, "une fois décompressée")


def test_a_zip_of_many_entries_is_refused_before_its_directory_is_read(
    tmp_path, settings, monkeypatch
):
    """The entry count comes from the zip's end record: zipfile never parses the directory (of
    a million entries it would take 566 MB and 8 s)."""
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    archive = tmp_path / "source"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(upload_checks.MAX_ZIP_ENTRIES + 10):
            zf.writestr(f"{i:x}", b"")
    opened = []
    monkeypatch.setattr(
        upload_checks.zipfile,
        "ZipFile",
        lambda *args, **kwargs: opened.append(args) or zipfile.ZipFile(*args, **kwargs),
    )
    with pytest.raises(ReadError, match="plus de 50 fichiers"):
        read_source(archive, name="corbeilles.zip")
    assert opened == []


def test_a_zip_with_a_large_directory_is_refused(tmp_path, settings):
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    parts = shapefile_parts(tmp_path)
    archive = tmp_path / "source"
    with zipfile.ZipFile(archive, "w") as zf:
        for suffix, data in parts.items():
            info = zipfile.ZipInfo(f"corbeilles{suffix}")
            info.comment = b"x" * 20_000  # comments live in the directory
            zf.writestr(info, data)
    with pytest.raises(ReadError, match="son répertoire dépasse 64 Ko"):
        read_source(archive, name="corbeilles.zip")


def test_a_zip64_archive_is_refused(tmp_path, settings, monkeypatch):
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    parts = shapefile_parts(tmp_path)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)  # so that zipfile writes Zip64
    archive = make_zip(tmp_path / "source", {f"corbeilles{k}": v for k, v in parts.items()})
    monkeypatch.undo()
    assert zipfile.ZipFile(archive).namelist()  # a valid zip, for zipfile
    with pytest.raises(ReadError, match="Zip64"):
        read_source(archive, name="corbeilles.zip")


def test_a_raw_shp_is_asked_to_be_zipped(tmp_path, bins):
    upload = tmp_path / "source"
    upload.write_bytes(shapefile_parts(tmp_path)[".shp"])
    record = run_import(bins, upload, "corbeilles.shp")
    assert_refused_and_untouched(record, bins, "s'envoie zippé")


# --- GeoPackage ----------------------------------------------------------------------------------


def write_gpkg(path):
    """A real one-point GeoPackage written by GDAL, moved to ``path`` (e.g. an upload's name)."""
    written = path.with_name(path.name + "-written.gpkg")
    pyogrio.raw.write(
        written,
        np.array([bytes(Point(*TOWN_HALL).wkb)], dtype=object),
        [np.array(["G-1"], dtype=object)],
        fields=["num"],
        geometry_type="Point",
        crs="EPSG:4326",
        driver="GPKG",
        layer="corbeilles",
    )
    written.rename(path)
    return path


def tamper(path, *statements):
    """Write into the GeoPackage's schema directly, as a hostile tool would."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA writable_schema = ON")
    for statement in statements:
        sql, params = statement if isinstance(statement, tuple) else (statement, ())
        con.execute(sql, params)
    con.commit()
    con.close()


def schema_row(kind, name, table, sql):
    """An object that SQLite itself would refuse to create, written as a row of sqlite_master."""
    return (
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES (?, ?, ?, 0, ?)",
        (kind, name, table, sql),
    )


@pytest.fixture
def secret_db(tmp_path):
    path = tmp_path / "server-side-secret.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE secret (name TEXT)")
    con.execute("INSERT INTO secret VALUES (?)", [SECRET])
    con.commit()
    con.close()
    return path


def test_a_plain_geopackage_still_imports(tmp_path, bins):
    record = run_import(bins, write_gpkg(tmp_path / "source"), "corbeilles.gpkg")
    assert record.status == "succeeded" and record.imported == 1, record.message


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("view-over-attached-db", "vue"),
        ("view-as-layer", "vue"),
        ("trigger-attaching", "instruction SQL interdite"),
        ("trigger-load-extension", "instruction SQL interdite"),
        ("foreign-trigger", "déclencheur"),
        ("virtualogr", "table virtuelle"),
        ("virtualogr-as-layer", "table virtuelle"),
        ("generated-column", "colonnes calculées"),
    ],
)
def test_a_geopackage_reaching_beyond_itself_is_refused(
    tmp_path, settings, secret_db, secret_csv, case, fragment
):
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    upload = hostile_gpkg(tmp_path, case, secret_db, secret_csv)
    with pytest.raises(ReadError) as refused:
        read_source(upload, name="corbeilles.gpkg")
    assert "GeoPackage est refusé" in str(refused.value)
    assert fragment in str(refused.value)


def test_a_hostile_geopackage_upload_is_refused_end_to_end(tmp_path, bins, secret_db, secret_csv):
    upload = hostile_gpkg(tmp_path, "virtualogr-as-layer", secret_db, secret_csv)
    record = run_import(bins, upload, "corbeilles.gpkg")
    assert_refused_and_untouched(record, bins, "GeoPackage est refusé", "table virtuelle")


def hostile_gpkg(tmp_path, case, secret_db, secret_csv):
    upload = write_gpkg(tmp_path / "source")
    statements = {
        "view-over-attached-db": [
            schema_row("view", "fuite", "fuite", "CREATE VIEW fuite AS SELECT * FROM aux.secret"),
        ],
        "view-as-layer": [
            schema_row("view", "fuite", "fuite", "CREATE VIEW fuite AS SELECT * FROM corbeilles"),
            "INSERT INTO gpkg_contents (table_name, data_type, identifier) "
            "VALUES ('fuite', 'attributes', 'fuite')",
        ],
        "trigger-attaching": [
            schema_row(
                "trigger",
                "rtree_corbeilles_geom_insert2",
                "corbeilles",
                "CREATE TRIGGER rtree_corbeilles_geom_insert2 AFTER INSERT ON corbeilles "
                f"BEGIN ATTACH '{secret_db}' AS aux; END",
            ),
        ],
        "trigger-load-extension": [
            schema_row(
                "trigger",
                "rtree_corbeilles_geom_delete",
                "corbeilles",
                "CREATE TRIGGER rtree_corbeilles_geom_delete AFTER DELETE ON corbeilles "
                "BEGIN SELECT load_extension('/tmp/evil.so'); END",
            ),
        ],
        "foreign-trigger": [
            "CREATE TRIGGER copie AFTER INSERT ON corbeilles "
            "BEGIN UPDATE gpkg_contents SET description = new.num; END",
        ],
        "virtualogr": [
            schema_row(
                "table",
                "secret_vt",
                "secret_vt",
                f"CREATE VIRTUAL TABLE secret_vt USING VirtualOGR('{secret_csv}')",
            ),
        ],
        "virtualogr-as-layer": [
            "DELETE FROM gpkg_contents",
            schema_row(
                "table",
                "secret_vt",
                "secret_vt",
                f"CREATE VIRTUAL TABLE secret_vt USING VirtualOGR('{secret_csv}')",
            ),
            "INSERT INTO gpkg_contents (table_name, data_type, identifier) "
            "VALUES ('secret_vt', 'attributes', 'secret_vt')",
        ],
        "generated-column": [
            "CREATE TABLE calc (a TEXT, b TEXT GENERATED ALWAYS AS (upper(a)) VIRTUAL)",
        ],
    }[case]
    tamper(upload, *statements)
    return upload


def test_a_geopackage_is_inspected_without_being_modified(tmp_path, bins):
    upload = write_gpkg(tmp_path / "source")
    tamper(upload, "CREATE VIEW fuite AS SELECT * FROM corbeilles")
    before = upload.read_bytes()
    with pytest.raises(ReadError, match="vue"):
        layer_import_file(layer=bins, path=upload, source_name="x.gpkg")
    assert upload.read_bytes() == before
    assert not list(tmp_path.glob("source-*"))  # no journal, no WAL written beside it


def test_a_geopackage_whose_geometry_columns_loop_for_ever_is_refused_at_once(tmp_path, settings):
    """gpkg_geometry_columns replaced by a recursive view that never ends: judged from the
    schema, refused before any table is read (it used to hang the worker for good)."""
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    upload = write_gpkg(tmp_path / "source")
    tamper(
        upload,
        "ALTER TABLE gpkg_geometry_columns RENAME TO ggc_old",
        "CREATE VIEW gpkg_geometry_columns AS WITH RECURSIVE c(x) AS "
        "(SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT 'a' AS table_name, 'b' AS column_name FROM c WHERE x < 0",
    )
    started = time.monotonic()
    with pytest.raises(ReadError, match="il contient une vue"):
        read_source(upload, name="corbeilles.gpkg")
    assert time.monotonic() - started < 1


def test_the_geopackage_inspection_gives_up_past_its_budget(tmp_path, monkeypatch):
    """The safety net under the schema rules: whatever SQLite runs on an upload's connection is
    interrupted once the budget is spent (a query that would never end, here)."""
    monkeypatch.setattr(upload_checks, "GPKG_CHECK_BUDGET_S", 0.2)
    upload = write_gpkg(tmp_path / "source")
    started = time.monotonic()
    with (
        pytest.raises(upload_checks.UnsafeUpload, match="prend trop de temps"),
        upload_checks.sqlite_inspection(upload) as con,
    ):
        con.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
        ).fetchone()
    assert time.monotonic() - started < 2


def test_a_sqlite_file_that_is_not_a_geopackage_is_refused(tmp_path, bins):
    upload = tmp_path / "source"
    shutil.copy(write_gpkg(tmp_path / "g.gpkg"), upload)
    tamper(upload, "PRAGMA application_id = 0")
    record = run_import(bins, upload, "corbeilles.gpkg")
    assert_refused_and_untouched(record, bins, "n'est pas un GeoPackage")


# --- Failing closed, in French ------------------------------------------------------------------


def test_an_unhardened_process_opens_no_upload_and_says_so_in_french(
    tmp_path, bins, monkeypatch, caplog
):
    monkeypatch.setattr(gdal._state, "drivers", frozenset({"GeoJSON"}))  # others registered
    upload = geojson_file(tmp_path, [], "source")
    record = run_import(bins, upload, "corbeilles.geojson")
    assert_refused_and_untouched(record, bins, "erreur inattendue du serveur")
    assert "GDAL" not in record.message
    assert "GdalNotHardened" in caplog.text  # the detail, for the operator


def test_a_corrupt_file_is_refused_in_french_without_gdals_words(tmp_path, bins):
    upload = tmp_path / "source"
    upload.write_text('{"type": "FeatureCollection", "features": [ garbage')
    record = run_import(bins, upload, "corbeilles.geojson")
    assert_refused_and_untouched(record, bins, "n'a pas pu être lu comme GeoJSON")
    assert "Failed" not in record.message and "character" not in record.message


def test_an_unknown_epsg_code_is_refused_in_french(tmp_path, bins):
    point = {"type": "Point", "coordinates": [700_000, 7_040_000]}
    upload = geojson_file(tmp_path, [{"type": "Feature", "properties": {}, "geometry": point}])
    record = LayerImport.objects.create(
        layer=bins, source_name="c.geojson", source_path=str(upload), source_srid=5000
    )
    record = layer_import_run(import_id=record.pk)
    assert_refused_and_untouched(record, bins, "Le code EPSG 5000 est inconnu")
