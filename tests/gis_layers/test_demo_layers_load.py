"""The synthetic equipment layers, loaded into the database and served by the APIs."""

import pytest

from gis_layers.models import Feature, Layer
from gis_layers.services import demo_layers_load

pytestmark = pytest.mark.django_db


def test_demo_layers_are_loaded_owned_and_labelled_synthetic(demo, client):
    demo_layers_load()
    layers = {layer.slug: layer for layer in Layer.objects.select_related("owner_service")}
    lights = layers["eclairage-public"]
    assert 1350 <= lights.feature_count <= 1650
    assert lights.is_synthetic and "synthétique" in lights.description
    assert lights.owner_organisation == demo.libercourt
    assert lights.owner_service == demo.eclairage
    glass = layers["bornes-verre"]
    assert glass.owner_organisation == demo.cahc and glass.owner_service == demo.dechets
    # Equipment owners are on each feature too: routing will use them.
    assert not Feature.objects.filter(layer=glass).exclude(owner_organisation=demo.cahc).exists()
    # Everything lies in Libercourt.
    outside = Feature.objects.filter(layer__in=layers.values()).exclude(
        geom__coveredby=demo.libercourt.commune.geom
    )
    assert not outside.exists()
    body = client.get("/ogcapi/collections/eclairage-public/items?limit=2").json()
    assert body["numberMatched"] == lights.feature_count
    assert body["features"][0]["properties"]["ref"] == "EP-0001"


def test_reloading_the_demo_layers_is_idempotent(demo):
    demo_layers_load()
    first = {lay.slug: (lay.feature_count, lay.pk) for lay in Layer.objects.all()}
    refs = list(
        Feature.objects.filter(layer__slug="bancs").order_by("ref").values_list("ref", "geom")
    )
    demo_layers_load()
    assert {lay.slug: (lay.feature_count, lay.pk) for lay in Layer.objects.all()} == first
    assert (
        list(Feature.objects.filter(layer__slug="bancs").order_by("ref").values_list("ref", "geom"))
        == refs
    )
