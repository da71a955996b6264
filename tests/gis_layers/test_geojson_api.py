"""The GeoJSON items endpoint: paging, bbox, properties, ETag, bad input, query budget."""

import json

import pytest

pytestmark = pytest.mark.django_db
URL = "/api/layers/eclairage-test/features/"


def test_items_are_geojson_built_by_postgis(client, layers, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):  # the public layer and its page in one statement
        response = client.get(URL, {"limit": 100})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == 300 and body["numberReturned"] == 100
    first = body["features"][0]
    assert first["properties"]["ref"] == "EP-0001"
    lon, lat = first["geometry"]["coordinates"]
    assert (round(lon, 5), round(lat, 5)) == (3.0, 50.475)  # back in WGS84 to the decimetre
    assert [link["rel"] for link in body["links"]] == ["self", "next"]


def test_paging_walks_every_feature_once(client, layers):
    seen, url = [], URL + "?limit=128"
    while url:
        body = client.get(url).json()
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == 300 and len(set(seen)) == 300


def test_bbox_selects_the_features_inside(client, layers, django_assert_max_num_queries):
    bbox = "3.0045,50.4770,3.0085,50.4800"  # columns 5..8, rows 3..7 of the grid
    with django_assert_max_num_queries(3):
        body = client.get(URL, {"bbox": bbox, "limit": 20}).json()
    assert body["numberMatched"] == 4 * 5
    assert body["numberReturned"] == 20
    for feature in body["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 3.0045 <= lon <= 3.0085 and 50.4770 <= lat <= 50.4800


def test_property_selection(client, layers):
    body = client.get(URL, {"properties": "hauteur_m", "limit": 1}).json()
    assert body["features"][0]["properties"] == {"ref": "EP-0001", "hauteur_m": 7}


def test_etag_and_if_none_match(client, layers, django_assert_max_num_queries):
    response = client.get(URL, {"limit": 5})
    etag = response["ETag"]
    with django_assert_max_num_queries(1):  # the layer only: no data query for a 304
        again = client.get(URL, {"limit": 5}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert client.get(URL, {"limit": 6}, HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"bbox": "3.1,50.5,3.0"}, "4 nombres"),
        ({"bbox": "a,b,c,d"}, "nombres"),
        ({"bbox": "3.1,50.5,3.0,50.4"}, "inversée"),
        ({"bbox": "nan,50.4,3.1,50.5"}, "non finie"),
        ({"bbox": "3.0,95,3.1,96"}, "limites WGS84"),
        ({"limit": "10001"}, "ne peut dépasser 10000"),
        ({"limit": "0"}, "au moins 1"),
        ({"limit": "dix"}, "entier"),
        ({"offset": "-5"}, "au moins 0"),
        ({"properties": "hauteur_m,password"}, "Propriété inconnue"),
        ({"properties": "x'); DROP TABLE gis_layers_feature; --"}, "Propriété inconnue"),
    ],
)
def test_bad_parameters_get_400_with_a_reason(client, layers, params, fragment):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert fragment in response.json()["description"]


def test_unknown_layer_is_404_with_a_reason(client, layers):
    response = client.get("/api/layers/nope/features/")
    assert response.status_code == 404
    assert "Couche inconnue" in response.json()["description"]


@pytest.mark.parametrize("url", [URL, "/ogcapi/collections/eclairage-test/items"])
def test_an_unknown_or_closed_layer_is_said_before_a_bad_parameter(client, layers, url):
    """A page request names its layer first: an unknown layer is a 404 and a layer the caller
    may not read a 401, whatever the page parameters; only then is a bad bbox a 400."""
    bad = {"bbox": "3.1,50.5,3.0,50.4"}  # inverted
    assert client.get(url.replace("eclairage-test", "nope"), bad).status_code == 404
    assert client.get(url.replace("eclairage-test", "reseau-eau"), bad).status_code == 401
    response = client.get(url, bad)
    assert response.status_code == 400 and "bbox" in response.json()["description"]


def test_catalogue_lists_public_layers_for_anonymous(client, layers):
    body = client.get("/api/layers/").json()
    slugs = {layer["slug"] for layer in body["layers"]}
    assert slugs == {"eclairage-test"}
    entry = body["layers"][0]
    assert entry["urls"]["vector_tiles"].endswith("/tiles/eclairage-test/{z}/{x}/{y}.mvt")
    assert entry["urls"]["ogcapi_collection"].endswith("/ogcapi/collections/eclairage-test")
    assert json.dumps(entry)  # plain JSON


@pytest.mark.parametrize(
    ("url", "budget"),
    [
        ("/ogcapi/", 0),
        ("/ogcapi/conformance", 0),
        ("/ogcapi/collections", 1),
        ("/ogcapi/collections/eclairage-test", 1),
        ("/ogcapi/collections/eclairage-test/items?limit=50", 1),
        ("/ogcapi/collections/eclairage-test/items?limit=50&bbox=3.0,50.47,3.01,50.48", 2),
        ("/ogcapi/collections/eclairage-test/items?limit=50&properties=hauteur_m", 2),
        ("/api/layers/", 1),
    ],
)
def test_query_budget_of_each_collection_endpoint(
    client, layers, django_assert_max_num_queries, url, budget
):
    with django_assert_max_num_queries(budget):
        assert client.get(url).status_code == 200


def test_the_data_lookup_is_prepared_and_loads_what_the_orm_loads(
    client, layers, django_assert_max_num_queries
):
    """selectors.layer_for_data builds the layer from one prepared statement: the loaded fields
    equal the ORM's (the attribute schema parsed from JSON), the others are deferred and load
    when read, and after psycopg's threshold the statement is prepared on the connection."""
    from django.db import connection

    from gis_layers.models import Layer
    from gis_layers.selectors import DATA_FIELDS, layer_for_data

    with django_assert_max_num_queries(1):
        layer = layer_for_data("eclairage-test")
    orm = Layer.objects.get(slug="eclairage-test")
    assert {name: getattr(layer, name) for name in DATA_FIELDS} == {
        name: getattr(orm, name) for name in DATA_FIELDS
    }
    assert layer.attribute_schema[1] == {"name": "hauteur_m", "type": "integer", "label": "Hauteur"}
    assert layer.property_names == orm.property_names
    assert "extent" in layer.get_deferred_fields()
    assert layer.extent.equals(orm.extent)  # deferred, loaded on read
    assert layer_for_data("no-such-layer") is None
    assert layer_for_data("eclairage-test'; DROP TABLE gis_layers_layer; --") is None

    feature_id = client.get(URL, {"limit": 1}).json()["features"][0]["id"]
    for _ in range(6):  # an item: the layer, then the feature
        url = f"/ogcapi/collections/eclairage-test/items/{feature_id}"
        assert client.get(url).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%FROM gis_layers_layer l WHERE l.slug = $1%"],
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.parametrize(
    ("bbox", "limit", "offset"),
    [
        (None, 100, 0),
        (None, 128, 256),
        ((3.0, 50.475, 3.005, 50.48), 10, 0),
        ((3.0, 50.475, 3.005, 50.48), 10, 20),
    ],
)
def test_a_public_page_read_with_its_layer_is_the_page_read_after_it(layers, bbox, limit, offset):
    """layer_with_public_page (one statement) answers what layer_items answers once the layer is
    read: the same bytes and the same counts, with and without a bbox."""
    from gis_layers.models import Layer
    from gis_layers.selectors import (
        DATA_FIELDS,
        BBox,
        layer_for_data,
        layer_items,
        layer_with_public_page,
    )

    box = BBox(*bbox) if bbox else None
    layer, page = layer_with_public_page("eclairage-test", bbox=box, limit=limit, offset=offset)
    orm = Layer.objects.get(slug="eclairage-test")  # every field as the ORM loads it
    assert {name: getattr(layer, name) for name in DATA_FIELDS} == {
        name: getattr(orm, name) for name in DATA_FIELDS
    }
    alone = layer_items(
        layer_for_data("eclairage-test"), bbox=box, limit=limit, offset=offset, properties=None
    )
    assert page == alone and page.number_returned > 0
    assert layer_with_public_page("no-such-layer", bbox=box, limit=limit, offset=offset) == (
        None,
        None,
    )


def test_no_page_is_read_with_a_layer_that_is_not_public(layers):
    """For an internal or shared layer the statement returns the layer's row only: the scan of
    its features is never executed (PostgreSQL's one-time filter); the page is read after the
    permission check (the test of access covers who gets it)."""
    from django.db import connection

    from gis_layers.selectors import layer_with_public_page, public_page_sql

    for slug in ("reseau-eau", "bornes-verre-test"):
        layer, page = layer_with_public_page(slug, bbox=None, limit=100, offset=0)
        assert layer.slug == slug and page is None
        sql, params = public_page_sql(slug, bbox=None, limit=100, offset=0)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        scans = list(_feature_scans(plan[0]["Plan"]))
        assert scans and all(scan["Actual Loops"] == 0 for scan in scans), scans


def _feature_scans(node):
    if node.get("Relation Name") == "gis_layers_feature":
        yield node
    for child in node.get("Plans", []):
        yield from _feature_scans(child)
