"""Mapbox Vector Tiles built by ST_AsMVT decode and hold the expected features."""

import math

import mapbox_vector_tile
import pytest

pytestmark = pytest.mark.django_db


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_bounds(x, y, z):
    n = 2**z

    def lon(i):
        return i / n * 360 - 180

    def lat(j):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * j / n))))

    return lon(x), lat(y + 1), lon(x + 1), lat(y)


def test_tile_decodes_and_holds_the_features_inside(client, layers, django_assert_max_num_queries):
    z = 16
    x, y = tile_of(3.0050, 50.4780, z)
    with django_assert_max_num_queries(2):  # the layer, the tile
        response = client.get(f"/tiles/eclairage-test/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(response.content)
    features = decoded["eclairage-test"]["features"]
    west, south, east, north = tile_bounds(x, y, z)
    from tests.gis_layers.conftest import GRID

    expected = {
        f"EP-{n:04d}"
        for n, (lon, lat) in enumerate(GRID, start=1)
        if west <= lon < east and south <= lat < north
    }
    inside = {
        f["properties"]["ref"]
        for f in features
        if 0 <= f["geometry"]["coordinates"][0] < 4096
        and 0 <= f["geometry"]["coordinates"][1] < 4096
    }
    assert expected and inside == expected
    # by default a tile carries the identifier alone (and the feature id), not every attribute
    assert all(set(f["properties"]) == {"ref"} for f in features)
    assert all(isinstance(f["id"], int) for f in features)
    assert all(f["geometry"]["type"] == "Point" for f in features)


def test_a_layer_chooses_the_attributes_of_its_tiles(client, layers):
    layers.public.tile_properties = ["hauteur_m"]
    layers.public.full_clean()
    layers.public.save()
    x, y = tile_of(3.0050, 50.4780, 16)
    decoded = mapbox_vector_tile.decode(client.get(f"/tiles/eclairage-test/16/{x}/{y}.mvt").content)
    features = decoded["eclairage-test"]["features"]
    assert features and all(set(f["properties"]) == {"ref", "hauteur_m"} for f in features)
    assert {f["properties"]["hauteur_m"] for f in features} <= {6, 7, 8, 9, 10}


def test_tile_attributes_must_be_in_the_schema(layers):
    from django.core.exceptions import ValidationError

    layers.public.tile_properties = ["hauteur_m", "nope"]
    with pytest.raises(ValidationError) as refused:
        layers.public.full_clean()
    assert "nope" in str(refused.value.message_dict["tile_properties"])


def test_empty_tile_is_an_empty_body(client, layers):
    x, y = tile_of(2.35, 48.85, 14)  # Paris
    response = client.get(f"/tiles/eclairage-test/14/{x}/{y}.mvt")
    assert response.status_code == 200 and response.content == b""


@pytest.mark.parametrize(
    ("path", "status"),
    [("23/0/0", 400), ("14/16384/0", 400), ("3/8/1", 400), ("3/1/8", 400)],
)
def test_tile_coordinates_out_of_range(client, layers, path, status):
    response = client.get(f"/tiles/eclairage-test/{path}.mvt")
    assert response.status_code == status
    assert response.json()["description"]


def test_tiles_have_an_etag(client, layers):
    x, y = tile_of(3.0050, 50.4780, 15)
    first = client.get(f"/tiles/eclairage-test/15/{x}/{y}.mvt")
    assert first["ETag"].startswith('W/"')  # the same features, not always in the same order
    assert first["Cache-Control"] == "public, max-age=60"
    assert (
        client.get(
            f"/tiles/eclairage-test/15/{x}/{y}.mvt", HTTP_IF_NONE_MATCH=first["ETag"]
        ).status_code
        == 304
    )
    assert client.get("/tiles/nope/15/1/1.mvt").status_code == 404


def test_versioned_tile_urls_may_be_cached_long(client, layers):
    from gis_layers.services import layer_replace_features
    from tests.gis_layers.conftest import GRID, point_rows

    def template():
        links = client.get("/ogcapi/collections/eclairage-test").json()["links"]
        return next(link["href"] for link in links if link["rel"] == "item")

    first = template()
    assert first.split("?v=")[0].endswith("/tiles/eclairage-test/{z}/{x}/{y}.mvt")
    version = first.split("?v=")[1]
    x, y = tile_of(3.0050, 50.4780, 15)
    url = f"/tiles/eclairage-test/15/{x}/{y}.mvt"
    current = client.get(url, {"v": version})
    assert current["Cache-Control"] == "public, max-age=3600, immutable"
    # a new import is a new version: the old URL is served briefly, the new one long
    layer_replace_features(
        layer=layers.public, rows=point_rows(GRID[:10]), source_srid=4326, ref_field="ref"
    )
    stale = client.get(url, {"v": version})
    assert stale["Cache-Control"] == "public, max-age=60"
    assert stale["ETag"] != current["ETag"]
    assert template() != first
    # never for a layer that is not public
    layers.internal.refresh_from_db()
    from gis_layers.selectors import tile_version

    internal = client.get(f"/tiles/reseau-eau/15/{x}/{y}.mvt", {"v": tile_version(layers.internal)})
    assert internal.status_code in (401, 403)


def test_a_tile_is_planned_without_parallel_workers(layers):
    """Its rows reach ST_AsMVT unsorted: a parallel plan would shuffle them from run to run.
    The statement calls a PARALLEL UNSAFE marker, which PostgreSQL never plans in parallel.
    (On the bench's 1M points, EXPLAIN of a z12 tile shows a Gather over 2 workers without
    the marker and a plain scan with it; a 300-point test table gets no parallel plan at all,
    so that part is not repeated here.)"""
    from django.db import connection

    from gis_layers.selectors import tile_sql

    x, y = tile_of(3.0050, 50.4780, 12)
    sql, params = tile_sql(layers.public, 12, x, y)
    assert "grc_serial_plan()" in sql
    with connection.cursor() as cursor:
        cursor.execute("SELECT proparallel FROM pg_proc WHERE proname = 'grc_serial_plan'")
        assert cursor.fetchall() == [("u",)]
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Gather" not in plan and "Parallel" not in plan


def test_the_same_data_gives_the_same_tile_bytes(client, layers):
    x, y = tile_of(3.0050, 50.4780, 14)
    first = client.get(f"/tiles/eclairage-test/14/{x}/{y}.mvt").content
    assert first and all(
        client.get(f"/tiles/eclairage-test/14/{x}/{y}.mvt").content == first for _ in range(3)
    )


def test_a_tile_holds_at_most_the_cap(client, layers, monkeypatch):
    from gis_layers import selectors

    monkeypatch.setattr(selectors, "TILE_FEATURE_CAPS", ((22, 10),))
    x, y = tile_of(3.0050, 50.4780, 12)
    decoded = mapbox_vector_tile.decode(client.get(f"/tiles/eclairage-test/12/{x}/{y}.mvt").content)
    assert len(decoded["eclairage-test"]["features"]) == 10
