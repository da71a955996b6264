"""Imports through GDAL: each format, reprojection, per-feature errors, atomic replacement."""

import json
import zipfile

import numpy as np
import pyogrio
import pytest
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from gis_layers.models import Feature, Layer, LayerImport
from gis_layers.readers import ReadError
from gis_layers.services import layer_import_file, layer_import_run

from .conftest import geojson_file

pytestmark = pytest.mark.django_db

TOWN_HALL = (3.01054, 50.480422)


@pytest.fixture
def bins(roads_layer):
    return roads_layer("corbeilles-import")


def point_feature(lon, lat, **props):
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def write_with_gdal(path, driver, srid, points, **kwargs):
    """Write points (already in ``srid``) with properties num/volume through GDAL."""
    geometry = np.array([bytes(Point(x, y).wkb) for x, y in points], dtype=object)
    fields = [
        np.array([f"CORB-{i:03d}" for i in range(1, len(points) + 1)], dtype=object),
        np.array([50 + i for i in range(len(points))], dtype=np.int32),
    ]
    pyogrio.raw.write(
        path,
        geometry,
        fields,
        fields=["num", "volume"],
        geometry_type="Point",
        crs=f"EPSG:{srid}",
        driver=driver,
        **kwargs,
    )


def stored_lonlat(layer, ref):
    geom = Feature.objects.get(layer=layer, ref=ref).geom.transform(4326, clone=True)
    return round(geom.x, 5), round(geom.y, 5)


def test_geojson_import_with_a_report_per_bad_feature(tmp_path, bins):
    path = geojson_file(
        tmp_path,
        [
            point_feature(*TOWN_HALL, num="CORB-001"),
            point_feature(50.48, 3.01, num="CORB-002"),  # lat/lon swapped
            {"type": "Feature", "properties": {"num": "CORB-003"}, "geometry": None},
            {
                "type": "Feature",
                "properties": {"num": "CORB-004"},
                "geometry": {"type": "LineString", "coordinates": [[3.01, 50.48], [3.02, 50.49]]},
            },
        ],
    )
    result, fmt, srid = layer_import_file(layer=bins, path=path, ref_field="num")
    assert (fmt, srid, result.total, result.imported, result.rejected) == ("geojson", 4326, 4, 1, 3)
    reasons = {e["ref"]: e["reason"] for e in result.errors}
    assert "latitude et longitude inversées" in reasons["CORB-002"]
    assert reasons["CORB-003"] == "géométrie absente"
    assert "LineString" in reasons["CORB-004"]
    assert stored_lonlat(bins, "CORB-001") == (3.01054, 50.48042)
    bins.refresh_from_db()
    assert bins.feature_count == 1 and bins.data_version == 1 and bins.extent is not None


def test_invalid_polygon_is_rejected_with_the_reason(tmp_path, demo):
    parks = Layer.objects.create(
        slug="parcs-import",
        name="Parcs",
        owner_organisation=demo.libercourt,
        geometry_type="Polygon",
    )
    bowtie = [[3.00, 50.47], [3.01, 50.48], [3.01, 50.47], [3.00, 50.48], [3.00, 50.47]]
    square = [[3.00, 50.47], [3.01, 50.47], [3.01, 50.48], [3.00, 50.48], [3.00, 50.47]]
    path = geojson_file(
        tmp_path,
        [
            {
                "type": "Feature",
                "properties": {"nom": "Nœud papillon"},
                "geometry": {"type": "Polygon", "coordinates": [bowtie]},
            },
            {
                "type": "Feature",
                "properties": {"nom": "Square"},
                "geometry": {"type": "Polygon", "coordinates": [square]},
            },
        ],
    )
    result, _fmt, _srid = layer_import_file(layer=parks, path=path, ref_field="nom")
    assert result.imported == 1
    assert result.errors[0]["ref"] == "Nœud papillon"
    assert result.errors[0]["reason"].startswith("géométrie invalide : Self-intersection")


def test_geopackage_in_lambert93_is_stored_without_shift(tmp_path, bins):
    town_hall_2154 = Point(*TOWN_HALL, srid=4326).transform(2154, clone=True)
    path = tmp_path / "corbeilles.gpkg"
    write_with_gdal(
        path, "GPKG", 2154, [(town_hall_2154.x, town_hall_2154.y), (700800.0, 7042600.0)]
    )
    result, fmt, srid = layer_import_file(layer=bins, path=path, ref_field="num")
    assert (fmt, srid, result.imported) == ("gpkg", 2154, 2)
    stored = Feature.objects.get(layer=bins, ref="CORB-001").geom
    assert stored.distance(town_hall_2154) < 0.01
    assert Feature.objects.get(layer=bins, ref="CORB-002").properties["volume"] == 51


def test_zipped_shapefile_in_web_mercator_is_reprojected(tmp_path, bins):
    merc = Point(*TOWN_HALL, srid=4326).transform(3857, clone=True)
    folder = tmp_path / "shp"
    folder.mkdir()
    write_with_gdal(folder / "corbeilles.shp", "ESRI Shapefile", 3857, [(merc.x, merc.y)])
    archive = tmp_path / "corbeilles.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    result, fmt, srid = layer_import_file(layer=bins, path=archive, ref_field="num")
    assert (fmt, srid, result.imported) == ("shapefile", 3857, 1)
    assert stored_lonlat(bins, "CORB-001") == (3.01054, 50.48042)


def test_csv_with_lon_lat_columns(tmp_path, bins):
    path = tmp_path / "corbeilles.csv"
    path.write_text(
        "num,lon,lat,volume\nCORB-001,3.01054,50.480422,50\nCORB-002,3.0111,50.4811,80\n"
    )
    result, fmt, srid = layer_import_file(layer=bins, path=path, ref_field="num")
    assert (fmt, srid, result.imported) == ("csv", 4326, 2)
    assert stored_lonlat(bins, "CORB-002") == (3.0111, 50.4811)
    assert "lon" not in Feature.objects.get(layer=bins, ref="CORB-002").properties


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        (
            "broken.geojson",
            b'{"type": "FeatureCollection", "features": [{"type": "Fea',
            "n'a pas pu être lu comme GeoJSON",
        ),
        ("photo.geojson", b"<html><script>alert(1)</script></html>", "n'est pas une couche SIG"),
        (
            "image.svg.geojson",
            b'<svg xmlns="http://www.w3.org/2000/svg"></svg>',
            "n'est pas une couche SIG",
        ),
        ("empty.zip", b"PK\x05\x06" + b"\x00" * 18, "Format non reconnu"),
        ("notes.txt", b"just some words\nand more", "Format non reconnu"),
    ],
)
def test_bad_files_are_refused_and_the_layer_is_kept(tmp_path, bins, name, content, fragment):
    layer_import_file(
        layer=bins,
        path=geojson_file(tmp_path, [point_feature(*TOWN_HALL, num="A")]),
        ref_field="num",
    )
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(ReadError, match=fragment):
        layer_import_file(layer=bins, path=bad, ref_field="num")
    assert list(Feature.objects.filter(layer=bins).values_list("ref", flat=True)) == ["A"]


def test_zip_without_shapefile(tmp_path, bins):
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "no layer here")
    with pytest.raises(ReadError, match=r"\.shp"):
        layer_import_file(layer=bins, path=archive)


def test_a_failing_import_leaves_the_previous_version_intact(tmp_path, bins, monkeypatch):
    layer_import_file(
        layer=bins,
        path=geojson_file(tmp_path, [point_feature(*TOWN_HALL, num="OLD")]),
        ref_field="num",
    )
    from gis_layers import services

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_set_extent", boom)  # fails after the old rows were deleted
    new = geojson_file(
        tmp_path, [point_feature(3.0111, 50.4811, num=f"NEW-{i}") for i in range(5)], "new.geojson"
    )
    with pytest.raises(RuntimeError):
        layer_import_file(layer=bins, path=new, ref_field="num")
    assert list(Feature.objects.filter(layer=bins).values_list("ref", flat=True)) == ["OLD"]
    bins.refresh_from_db()
    assert bins.feature_count == 1 and bins.data_version == 1


def test_manager_uploads_a_file_and_follows_the_import(
    client, demo, bins, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    client.force_login(demo.manager)  # manager of Voirie, the layer's service
    body = json.dumps(
        {"type": "FeatureCollection", "features": [point_feature(*TOWN_HALL, num="CORB-9")]}
    )
    upload = SimpleUploadedFile(
        "corbeilles.geojson", body.encode(), content_type="application/geo+json"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            f"/intranet/couches/{bins.slug}/", {"file": upload, "ref_field": "num"}
        )
    assert response.status_code == 302
    record = LayerImport.objects.get()
    assert len(callbacks) == 1  # the Celery task is queued only once the record is committed
    assert record.status == "pending" and record.source_name == "corbeilles.geojson"
    assert not record.source_path.endswith(".geojson")  # stored under a server-chosen name
    layer_import_run(import_id=record.pk)  # what the worker runs
    assert not any((tmp_path / "imports").iterdir())  # the uploaded copy is not kept
    page = client.get(f"/intranet/imports/{record.pk}/?format=json").json()
    assert page["status"] == "succeeded" and page["imported"] == 1
    assert Feature.objects.get(layer=bins).ref == "CORB-9"
    assert (
        "1 objets importés sur 1 lus"
        in client.get(f"/intranet/imports/{record.pk}/").content.decode()
    )


def test_only_the_layer_managers_may_import(client, demo, bins):
    upload = SimpleUploadedFile("x.geojson", b'{"type":"FeatureCollection","features":[]}')
    client.force_login(demo.agent)  # agent of Voirie, not its manager
    assert client.post(f"/intranet/couches/{bins.slug}/", {"file": upload}).status_code == 403
    client.force_login(demo.cahc_admin)  # another organisation
    assert client.post(f"/intranet/couches/{bins.slug}/", {"file": upload}).status_code == 403
    assert not LayerImport.objects.exists()


def test_a_worker_failure_is_recorded_with_its_reason(tmp_path, bins):
    bad = tmp_path / "source"
    bad.write_bytes(b"<html></html>")
    record = LayerImport.objects.create(layer=bins, source_name="x.geojson", source_path=str(bad))
    record = layer_import_run(import_id=record.pk)
    assert record.status == "failed" and "n'est pas une couche SIG" in record.message
    assert layer_import_run(import_id=record.pk).status == "failed"  # a redelivery does nothing


def test_management_command(tmp_path, demo, capsys):
    path = geojson_file(tmp_path, [point_feature(*TOWN_HALL, num="EP-1", puissance=40)])
    call_command(
        "import_layer",
        "cmd-layer",
        str(path),
        "--create",
        "--owner",
        "libercourt",
        "--geometry-type",
        "Point",
        "--ref-field",
        "num",
    )
    assert "1 imported, 0 rejected" in capsys.readouterr().out
    layer = Layer.objects.get(slug="cmd-layer")
    assert layer.property_names == ["num", "puissance"]
    assert layer.feature_count == 1 and layer.extent is not None
    assert Feature.objects.get(layer=layer).properties["puissance"] == 40


def test_an_upload_with_the_broker_down_is_kept_and_queued_by_the_sweep(
    client, demo, bins, settings, tmp_path, stopped_redis_url, django_capture_on_commit_callbacks
):
    """Store first, then notify: with Redis (the broker) down the manager's upload is recorded
    and the page answers as usual; once the broker is back the sweep queues it, once."""
    import datetime as dt

    from core import failopen
    from gis_layers.services import layer_imports_sweep
    from tests.brokers import broker_at, redis_server
    from tests.conftest import free_port

    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    client.force_login(demo.manager)
    body = json.dumps({"type": "FeatureCollection", "features": [point_feature(*TOWN_HALL)]})
    upload = SimpleUploadedFile("corbeilles.geojson", body.encode())
    with broker_at(stopped_redis_url), django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/intranet/couches/{bins.slug}/", {"file": upload})
    assert response.status_code == 302  # was a 500, after the record was committed
    record = LayerImport.objects.get()
    assert record.status == "pending" and record.queued_at is None
    assert layer_imports_sweep() == 0  # too recent: its publish may still be on its way
    LayerImport.objects.update(created_at=record.created_at - dt.timedelta(minutes=2))
    failopen.broker.reset()  # this process's pause after the failure is over
    port = free_port()
    with redis_server(port) as broker, broker_at(f"redis://127.0.0.1:{port}/0"):
        assert layer_imports_sweep() == 1
        assert broker.llen("celery") == 1  # the task, in the broker's queue
        message = json.loads(broker.lindex("celery", 0))
        assert message["headers"]["task"] == "gis_layers.import_layer"
        assert layer_imports_sweep() == 0  # queued: not asked again
    record.refresh_from_db()
    assert record.queued_at is not None
    layer_import_run(import_id=record.pk)  # what the worker runs
    assert Feature.objects.filter(layer=bins).count() == 1


@pytest.mark.django_db
def test_a_reimport_keeps_reports_on_their_equipment(layers, make_report):
    """A re-import of a layer whose equipment has reports: each report follows its equipment's
    identifier to the new feature, or loses it (null) when the identifier is gone; before,
    the replace failed at commit on the foreign key."""
    from gis_layers.models import Feature
    from gis_layers.services import layer_replace_features
    from reports.models import Report

    from .conftest import GRID, point_rows

    kept = Feature.objects.get(layer=layers.public, ref="EP-0002")
    gone = Feature.objects.get(layer=layers.public, ref="EP-0250")
    on_kept, on_gone, elsewhere = make_report(), make_report(), make_report()
    other = Feature.objects.get(layer=layers.internal, ref="AEP-0001")
    Report.objects.filter(pk=on_kept.pk).update(equipment_id=kept.pk)
    Report.objects.filter(pk=on_gone.pk).update(equipment_id=gone.pk)
    Report.objects.filter(pk=elsewhere.pk).update(equipment_id=other.pk)

    result = layer_replace_features(
        layer=layers.public, rows=point_rows(GRID[:10]), source_srid=4326, ref_field="ref"
    )
    assert result.imported == 10
    from django.db import connection

    with connection.cursor() as cursor:  # the foreign keys checked now, as at the commit
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    new = Feature.objects.get(layer=layers.public, ref="EP-0002")
    assert new.pk != kept.pk  # a new row, the same equipment
    assert Report.objects.get(pk=on_kept.pk).equipment_id == new.pk
    assert Report.objects.get(pk=on_gone.pk).equipment_id is None
    assert Report.objects.get(pk=elsewhere.pk).equipment_id == other.pk  # another layer's

    # without an identifier field the features are numbered by row: nothing is linked again
    layer_replace_features(layer=layers.public, rows=point_rows(GRID[:10]), source_srid=4326)
    assert Report.objects.get(pk=on_kept.pk).equipment_id is None
