"""OGC API - Features read by real clients over HTTP: OWSLib and GDAL's OAPIF driver."""

import json
import subprocess
import sys

import pytest
from owslib.ogcapi.features import Features

pytestmark = pytest.mark.django_db(transaction=True)


def test_conformance_and_landing(client, layers):
    landing = client.get("/ogcapi/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    classes = client.get("/ogcapi/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30" in classes
    api = client.get("/ogcapi/api")
    assert api["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert "/collections/{collectionId}/items" in api.json()["paths"]
    assert client.get("/ogcapi/?f=html").status_code == 400


def test_collection_metadata_advertises_tiles_and_extent(client, layers):
    body = client.get("/ogcapi/collections/eclairage-test").json()
    assert body["itemType"] == "feature"
    minx, miny, maxx, maxy = body["extent"]["spatial"]["bbox"][0]
    assert 2.99 < minx < maxx < 3.03 and 50.47 < miny < maxy < 50.49
    tiles = [link for link in body["links"] if link["type"] == "application/vnd.mapbox-vector-tile"]
    assert tiles[0]["href"].split("?v=")[0].endswith("/tiles/eclairage-test/{z}/{x}/{y}.mvt")


def test_item_and_missing_items(client, layers):
    items = client.get("/ogcapi/collections/eclairage-test/items?limit=1").json()
    fid = items["features"][0]["id"]
    one = client.get(f"/ogcapi/collections/eclairage-test/items/{fid}")
    assert one.status_code == 200 and one.json()["properties"]["ref"] == "EP-0001"
    assert one.json()["links"][1]["rel"] == "collection"
    for bad in ("999999999", "abc", "1;DROP"):
        assert client.get(f"/ogcapi/collections/eclairage-test/items/{bad}").status_code == 404
    assert client.get("/ogcapi/collections/unknown/items").status_code == 404


def test_owslib_reads_collections_and_pages_through_items_with_a_bbox(live_server, layers):
    api = Features(live_server.url + "/ogcapi/")
    ids = [c["id"] for c in api.collections()["collections"]]
    assert ids == ["eclairage-test", "signalements"]  # anonymous: public layers, the reports
    assert api.collection_items("signalements")["numberMatched"] == 0  # none filed in this test
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in api.conformance()["conformsTo"]
    )
    bbox = [3.0045, 50.4770, 3.0085, 50.4800]
    first = api.collection_items("eclairage-test", bbox=bbox, limit=7)
    # more follow: numberMatched is left out rather than counted (selectors._page)
    assert "numberMatched" not in first and first["numberReturned"] == 7
    refs = [f["properties"]["ref"] for f in first["features"]]
    second = api.collection_items("eclairage-test", bbox=bbox, limit=7, offset=7)
    refs += [f["properties"]["ref"] for f in second["features"]]
    assert len(set(refs)) == 14
    last = api.collection_items("eclairage-test", bbox=bbox, limit=7, offset=14)
    assert last["numberMatched"] == 20 and last["numberReturned"] == 6


GDAL_CLIENT = """
import json, sys
import pyogrio
from shapely import from_wkb
url, bbox = sys.argv[1], sys.argv[2]
out = {}
for name, kwargs in (("all", {}), ("bbox", {"bbox": tuple(map(float, bbox.split(",")))})):
    meta, _fids, geoms, fields = pyogrio.raw.read(url, **kwargs)
    names = list(meta["fields"])
    out[name] = {
        "fields": names,
        "refs": [str(r) for r in fields[names.index("ref")]],
        "first": list(from_wkb(geoms[0]).coords[0]),
    }
print(json.dumps(out))
"""


def test_gdal_oapif_driver_reads_the_layer_through_paging(live_server, layers):
    # GDAL runs in its own process: its HTTP calls hold this process's GIL, and the live server
    # thread would never answer them.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            GDAL_CLIENT,
            f"OAPIF:{live_server.url}/ogcapi/collections/eclairage-test",
            "3.0045,50.4770,3.0085,50.4800",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(result.stdout)
    assert len(out["all"]["refs"]) == 300  # GDAL followed the "next" links page after page
    assert sorted(out["all"]["refs"])[0] == "EP-0001" and len(set(out["all"]["refs"])) == 300
    lon, lat = out["all"]["first"]
    assert 2.99 < lon < 3.03 and 50.47 < lat < 50.49  # WGS84 lon/lat, not Lambert-93
    assert len(out["bbox"]["refs"]) == 20
