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
    with django_assert_max_num_queries(2):
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
    sample = features[0]["properties"]
    assert {"ref", "hauteur_m", "source"} <= set(sample)
    assert all(f["geometry"]["type"] == "Point" for f in features)


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
    assert (
        client.get(
            f"/tiles/eclairage-test/15/{x}/{y}.mvt", HTTP_IF_NONE_MATCH=first["ETag"]
        ).status_code
        == 304
    )
    assert client.get("/tiles/nope/15/1/1.mvt").status_code == 404


def test_the_same_data_gives_the_same_tile_bytes(client, layers):
    x, y = tile_of(3.0050, 50.4780, 14)
    first = client.get(f"/tiles/eclairage-test/14/{x}/{y}.mvt").content
    assert first and all(
        client.get(f"/tiles/eclairage-test/14/{x}/{y}.mvt").content == first for _ in range(3)
    )


def test_a_tile_holds_at_most_the_cap(client, layers, monkeypatch):
    from gis_layers import selectors

    monkeypatch.setattr(selectors, "MAX_TILE_FEATURES", 10)
    x, y = tile_of(3.0050, 50.4780, 12)
    decoded = mapbox_vector_tile.decode(client.get(f"/tiles/eclairage-test/12/{x}/{y}.mvt").content)
    assert len(decoded["eclairage-test"]["features"]) == 10
