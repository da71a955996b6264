"""Layers for the API tests: a public, an internal and a shared layer with real imports."""

import json
from types import SimpleNamespace

import pytest

from gis_layers.models import Layer
from gis_layers.services import layer_replace_features

# A deterministic grid of points over central Libercourt (WGS84), 20 x 15 = 300 streetlights.
GRID = [(3.0000 + i * 0.0010, 50.4750 + j * 0.0007) for j in range(15) for i in range(20)]


def point_rows(points, prefix="EP"):
    """Rows as the import pipeline takes them: (number, WKB, properties)."""
    from django.contrib.gis.geos import Point

    for n, (lon, lat) in enumerate(points, start=1):
        props = {
            "ref": f"{prefix}-{n:04d}",
            "hauteur_m": 6 + n % 5,
            "source": "LED" if n % 2 else "SHP",
        }
        yield n, bytes(Point(lon, lat, srid=4326).wkb), props


def make_layer(*, slug, name, owner, service, visibility, points, prefix, schema, **extra):
    """A point layer filled through the real import pipeline."""
    layer = Layer.objects.create(
        slug=slug,
        name=name,
        owner_organisation=owner,
        owner_service=service,
        geometry_type="Point",
        attribute_schema=schema,
        visibility=visibility,
        **extra,
    )
    layer_replace_features(
        layer=layer, rows=point_rows(points, prefix), source_srid=4326, ref_field="ref"
    )
    return layer


@pytest.fixture
def layers(demo):
    schema = [
        {"name": "ref", "type": "string", "label": "Numéro"},
        {"name": "hauteur_m", "type": "integer", "label": "Hauteur"},
        {"name": "source", "type": "string", "label": "Source"},
    ]
    public = make_layer(
        slug="eclairage-test",
        name="Éclairage (test)",
        owner=demo.libercourt,
        service=demo.eclairage,
        visibility="public",
        points=GRID,
        prefix="EP",
        schema=schema,
        attribution="Ville de Libercourt – données de test",
    )
    internal = make_layer(
        slug="reseau-eau",
        name="Réseau d'eau (interne)",
        owner=demo.cahc,
        service=demo.eau,
        visibility="internal",
        points=GRID[:50],
        prefix="AEP",
        schema=schema,
    )
    shared = make_layer(
        slug="bornes-verre-test",
        name="Bornes à verre (partagée)",
        owner=demo.cahc,
        service=demo.dechets,
        visibility="shared",
        points=GRID[:20],
        prefix="BAV",
        schema=schema,
    )
    shared.shared_with.add(demo.libercourt)
    for layer in (public, internal, shared):
        layer.refresh_from_db()
    return SimpleNamespace(public=public, internal=internal, shared=shared)


def geojson_file(tmp_path, features, name="layer.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path
