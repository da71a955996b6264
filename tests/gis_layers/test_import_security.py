"""Hostile layer files: nothing outside the upload is read, no request leaves, a clear refusal.

Each case goes through what a manager's upload goes through (a LayerImport record run as the
worker runs it) into a layer that already holds one feature, and checks that the import failed
with a French reason, that the layer is unchanged, that the secret file's content appears nowhere
(message, features) and that the local HTTP server saw no connection.
"""

from __future__ import annotations

import http.server
import json
import shutil
import sqlite3
import threading
import zipfile

import numpy as np
import pyogrio
import pytest
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command
from django.db import connection

from core import gdal
from gis_layers.models import Feature, LayerImport
from gis_layers.readers import ReadError
from gis_layers.services import layer_import_file, layer_import_run

from .conftest import geojson_file

pytestmark = pytest.mark.django_db

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
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
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


def assert_refused_and_untouched(record, layer, *fragments, server=None):
    assert record.status == "failed", record.message
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


ACCEPTED_NAMES = [
    "couche.geojson",
    "couche.json",
    "couche.gpkg",
    "couche.csv",
    "couche.zip",
    "couche.shp",
    "couche.vrt",
    "couche",
]


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


# --- VRT disguised as an accepted format --------------------------------------------------------


@pytest.mark.parametrize("name", ACCEPTED_NAMES)
@pytest.mark.parametrize("prefix", ["{ ", "", "{" + " " * 5000])
def test_a_vrt_naming_a_server_file_is_refused(tmp_path, bins, secret_csv, name, prefix):
    upload = tmp_path / "upload" / "source"  # stored under a server-chosen name, as uploads are
    upload.parent.mkdir()
    upload.write_text(vrt(f"CSV:{secret_csv}", prefix=prefix))
    record = run_import(bins, upload, name)
    assert_refused_and_untouched(record, bins)


@pytest.mark.parametrize("name", ACCEPTED_NAMES)
def test_a_vrt_naming_a_url_makes_no_request(tmp_path, bins, server, name):
    upload = tmp_path / "source"
    upload.write_text(vrt(f"/vsicurl/{server.url}/internal.csv"))
    record = run_import(bins, upload, name)
    assert_refused_and_untouched(record, bins, server=server)


def test_the_vrt_refusal_says_why(tmp_path, bins, secret_csv):
    upload = tmp_path / "source"
    upload.write_text(vrt(f"CSV:{secret_csv}"))
    record = run_import(bins, upload, "equipements.geojson")
    assert_refused_and_untouched(record, bins, "VRT", "sont refusés")


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
def test_a_hostile_zip_is_refused(tmp_path, bins, secret_csv, server, case, fragment):
    parts = shapefile_parts(tmp_path)
    shp = {f"corbeilles{k}": v for k, v in parts.items()}
    evil_vrt = vrt(f"CSV:{secret_csv}")
    entries = {
        "vrt-beside": {**shp, "couche.vrt": evil_vrt},
        "vrt-as-shp": {**shp, "corbeilles.shp": evil_vrt},
        "traversal": {**shp, "../../corbeilles.prj": "GEOGCS[]"},
        "absolute": {**shp, "/etc/cron.d/corbeilles.cpg": "UTF-8"},
        "nested-zip": {**shp, "inner.zip": make_zip(tmp_path / "inner.zip", shp).read_bytes()},
        "two-shapefiles": {**shp, "autre.shp": parts[".shp"]},
        "no-dbf": {k: v for k, v in shp.items() if not k.endswith(".dbf")},
    }[case]
    archive = make_zip(tmp_path / "source", entries)
    record = run_import(bins, archive, "corbeilles.zip")
    assert_refused_and_untouched(record, bins, fragment, server=server)
    assert not (tmp_path.parent / "corbeilles.prj").exists()


def test_a_zip_too_big_once_uncompressed_is_refused(tmp_path, bins, settings):
    settings.GRC_LAYER_IMPORT_MAX_UNZIPPED_BYTES = 1024 * 1024
    parts = shapefile_parts(tmp_path)
    entries = {f"corbeilles{k}": v for k, v in parts.items()}
    entries["corbeilles.dbf"] = parts[".dbf"] + b"\x00" * (2 * 1024 * 1024)  # compresses to ~2 KB
    archive = make_zip(tmp_path / "source", entries)
    assert archive.stat().st_size < 100_000
    record = run_import(bins, archive, "corbeilles.zip")
    assert_refused_and_untouched(record, bins, "une fois décompressée")


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
    tmp_path, bins, secret_db, secret_csv, case, fragment
):
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
    record = run_import(bins, upload, "corbeilles.gpkg")
    assert_refused_and_untouched(record, bins, "GeoPackage est refusé", fragment)


def test_a_geopackage_is_inspected_without_being_modified(tmp_path, bins):
    upload = write_gpkg(tmp_path / "source")
    tamper(upload, "CREATE VIEW fuite AS SELECT * FROM corbeilles")
    before = upload.read_bytes()
    with pytest.raises(ReadError, match="vue"):
        layer_import_file(layer=bins, path=upload, source_name="x.gpkg")
    assert upload.read_bytes() == before
    assert not list(tmp_path.glob("source-*"))  # no journal, no WAL written beside it


def test_a_sqlite_file_that_is_not_a_geopackage_is_refused(tmp_path, bins):
    upload = tmp_path / "source"
    shutil.copy(write_gpkg(tmp_path / "g.gpkg"), upload)
    tamper(upload, "PRAGMA application_id = 0")
    record = run_import(bins, upload, "corbeilles.gpkg")
    assert_refused_and_untouched(record, bins, "n'est pas un GeoPackage")
