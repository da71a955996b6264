"""Pages at every scale: any bbox, keyset and offset pages, numberMatched when cheap, bad page
tokens, and a plan whose cost follows the page (EXPLAIN)."""

import pytest
from django.contrib.gis.geos import Polygon
from django.db import connection

from gis_layers.models import Feature

pytestmark = pytest.mark.django_db
URL = "/ogcapi/collections/eclairage-test/items"
# From a single streetlight to the whole grid (3.000-3.019, 50.4750-50.4848) and beyond it.
BBOXES = {
    "one": (3.0049, 50.4769, 3.0051, 50.4771),
    "few": (3.0045, 50.4770, 3.0085, 50.4800),
    "tenth": (3.0000, 50.4750, 3.0065, 50.4785),
    "all": (2.99, 50.47, 3.03, 50.49),
    "none": (2.35, 48.85, 2.36, 48.86),
}


def walk(client, url, params):
    """Every feature id by following the next links, and the last page's body."""
    ids, body = [], None
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [f["id"] for f in body["features"]]
        following = [link["href"] for link in body["links"] if link["rel"] == "next"]
        if not following:
            return ids, body
        response = client.get(following[0])


def orm_ids(layer, bbox):
    """The same page order from a plain ORM query: the features intersecting the bbox."""
    envelope = Polygon.from_bbox(bbox)
    envelope.srid = 4326
    envelope.transform(2154)
    return list(
        Feature.objects.filter(layer=layer, geom__intersects=envelope)
        .order_by("id")
        .values_list("id", flat=True)
    )


@pytest.mark.parametrize("size", list(BBOXES))
def test_pages_at_each_bbox_size_give_the_orm_features(client, layers, size):
    bbox = ",".join(str(v) for v in BBOXES[size])
    expected = orm_ids(layers.public, BBOXES[size])
    ids, last = walk(client, URL, {"bbox": bbox, "limit": 7})
    assert ids == expected
    assert last["numberMatched"] == len(expected)  # known on the last page
    assert {"all": 300, "none": 0, "one": 1}.get(size, len(expected)) == len(expected)


def test_keyset_and_offset_pages_agree(client, layers):
    bbox = "3.0000,50.4750,3.0065,50.4785"
    keyset, _ = walk(client, URL, {"bbox": bbox, "limit": 9})
    by_offset, offset = [], 0
    while True:
        body = client.get(URL, {"bbox": bbox, "limit": 9, "offset": offset}).json()
        by_offset += [f["id"] for f in body["features"]]
        if body["numberReturned"] < 9:
            break
        offset += 9
    assert keyset == by_offset == orm_ids(layers.public, BBOXES["tenth"])
    # the next link is a signed keyset token, not an offset; a keyset page has no prev link
    first = client.get(URL, {"bbox": bbox, "limit": 9}).json()
    following = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert "after=" in following and "offset=" not in following
    second = client.get(following).json()
    assert [link["rel"] for link in second["links"]] == ["self", "next", "collection"]
    # an offset page's next link carries on by keyset from where it is
    middle = client.get(URL, {"bbox": bbox, "limit": 9, "offset": 18}).json()
    after_middle = next(link["href"] for link in middle["links"] if link["rel"] == "next")
    assert [f["id"] for f in client.get(after_middle).json()["features"]] == by_offset[27:36]


def test_number_matched_when_known_and_left_out_when_not(
    client, layers, django_assert_max_num_queries
):
    bbox = "3.0045,50.4770,3.0085,50.4800"  # 20 streetlights
    assert client.get(URL, {"limit": 10}).json()["numberMatched"] == 300  # the stored count
    with django_assert_max_num_queries(1):  # the layer and its page: no count
        body = client.get(URL, {"bbox": bbox, "limit": 10}).json()
    assert "numberMatched" not in body and body["numberReturned"] == 10
    following = next(link["href"] for link in body["links"] if link["rel"] == "next")
    last = client.get(following).json()
    assert last["numberMatched"] == 20 and last["numberReturned"] == 10
    assert [link["rel"] for link in last["links"]] == ["self", "collection"]
    alone = client.get(URL, {"bbox": bbox, "limit": 20}).json()
    assert alone["numberMatched"] == 20  # a first page holding every match


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"bbox": "-200,-100,200,100"}, "bbox"),  # larger than the world
        ({"limit": str(10**9)}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"after": "eyJhIjoxfQ:forged"}, "after"),
        ({"after": "x" * 5000}, "after"),
    ],
)
def test_bad_page_input_is_a_400_with_its_reason(client, layers, params, name):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["description"].startswith(name)


def test_a_page_token_is_bound_to_its_layer_and_bbox(client, layers):
    bbox = "3.0000,50.4750,3.0065,50.4785"
    body = client.get(URL, {"bbox": bbox, "limit": 5}).json()
    following = next(link["href"] for link in body["links"] if link["rel"] == "next")
    token = following.split("after=")[1].split("&")[0]
    from urllib.parse import unquote

    token = unquote(token)
    # tampered: one character of the signed value changed
    tampered = token[:3] + ("A" if token[3] != "A" else "B") + token[4:]
    assert client.get(URL, {"bbox": bbox, "limit": 5, "after": tampered}).status_code == 400
    # another bbox, another layer, or an offset beside it
    other_bbox = client.get(URL, {"bbox": "3.0,50.475,3.01,50.48", "after": token})
    assert other_bbox.status_code == 400 and "bbox" in other_bbox.json()["description"]
    layers.shared.visibility = "public"
    layers.shared.save()
    other_layer = client.get(
        "/ogcapi/collections/bornes-verre-test/items", {"bbox": bbox, "after": token}
    )
    assert other_layer.status_code == 400
    both = client.get(URL, {"bbox": bbox, "limit": 5, "after": token, "offset": 5})
    assert both.status_code == 400
    # the plain GeoJSON endpoint pages the same way, with tokens of its own layer
    plain = client.get("/api/layers/eclairage-test/features/", {"bbox": bbox, "after": token})
    assert plain.status_code == 200


def _plan_nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.fixture
def big_layer(demo):
    """20,000 points over Libercourt, written in SQL (the import is tested elsewhere)."""
    from gis_layers.models import Layer

    layer = Layer.objects.create(
        slug="grand-test",
        name="Grand (test)",
        owner_organisation=demo.libercourt,
        geometry_type="Point",
        visibility="public",
        feature_count=20_000,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO gis_layers_feature (layer_id, ref, geom, properties)
            SELECT %s, 'G-' || n, ST_Transform(ST_SetSRID(ST_MakePoint(
                       2.98 + 0.06 * ((hashint4(n) & 65535) / 65535.0),
                       50.46 + 0.04 * ((hashint4(n + 7919) & 65535) / 65535.0)), 4326), 2154),
                   jsonb_build_object('ref', 'G-' || n, 'n', n)
            FROM generate_series(1, 20000) n
            """,
            [layer.pk],
        )
        cursor.execute("ANALYZE gis_layers_feature")
    return layer


@pytest.mark.parametrize(
    "bbox", [(2.98, 50.46, 3.04, 50.50), (2.99, 50.47, 3.02, 50.49), (3.0, 50.47, 3.005, 50.475)]
)
def test_a_page_of_a_large_bbox_never_sorts_its_matches(big_layer, bbox):
    from gis_layers.selectors import BBox, items_sql

    for properties in (None, ["n"]):
        sql, params = items_sql(
            big_layer, bbox=BBox(*bbox), limit=100, offset=0, properties=properties
        )
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            (plan,) = cursor.fetchone()[0]
        nodes = list(_plan_nodes(plan["Plan"]))
        scans = {n["Node Type"] for n in nodes if n.get("Relation Name") == "gis_layers_feature"}
        assert "Seq Scan" not in scans
        assert scans & {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}
        assert not any(n["Node Type"] in ("Gather", "Gather Merge") for n in nodes)
        for sort in (n for n in nodes if n["Node Type"] == "Sort"):
            # a top-N sort of the page's size, or the page itself sorted for its text: never
            # the whole match set, never on disk
            assert sort.get("Sort Space Type") == "Memory"
            assert sort["Actual Rows"] <= 101 or sort["Sort Method"] == "top-N heapsort"
        if properties:  # the features are built for the rows kept only
            (join,) = [n for n in nodes if n["Node Type"] == "Nested Loop"]
            (lookup,) = [n for n in join["Plans"] if n["Parent Relationship"] == "Inner"]
            assert lookup["Actual Rows"] * lookup["Actual Loops"] <= 101
