"""Synthetic urban-equipment layers for Libercourt: what a user of the demo map would notice.

Pure geometry, no database: the layers are generated in memory from the real commune boundary.
"""

import json
import time

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point

from gis_layers.demo_layers import (
    DEFAULT_SEED,
    DemoFeature,
    DemoLayer,
    generate_libercourt_layers,
    libercourt_boundary_2154,
)

TOWN_HALL = Point(
    Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform(3.01054, 50.480422)
)

# slug: (domain, geometry type, prefix, ref digits, owner, min count, max count)
CATALOGUE = {
    "voirie": ("voirie", "LineString", "VOIE", 3, "commune", 60, 999),
    "eclairage-public": ("eclairage-public", "Point", "EP", 4, "commune", 1350, 1650),
    "bancs": ("mobilier-urbain", "Point", "BANC", 3, "commune", 100, 160),
    "corbeilles": ("proprete", "Point", "CORB", 3, "commune", 200, 300),
    "aires-de-jeux": ("espaces-verts", "Polygon", "AJ", 2, "commune", 6, 10),
    "parcs": ("espaces-verts", "Polygon", "PARC", 2, "commune", 4, 7),
    "arbres": ("espaces-verts", "Point", "ARB", 4, "commune", 300, 500),
    "arrets-bus": ("mobilier-urbain", "Point", "ARRET", 2, "commune", 20, 30),
    "bornes-verre": ("collecte-dechets", "Point", "BAV", 3, "epci", 15, 25),
    "bornes-textile": ("collecte-dechets", "Point", "BTX", 2, "epci", 5, 10),
}
JSON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}
OTHER_SEEDS = (1, 2024)


@pytest.fixture(scope="module")
def commune_boundary():
    return libercourt_boundary_2154()


@pytest.fixture(scope="module")
def demo_layers(commune_boundary):
    return {layer.slug: layer for layer in generate_libercourt_layers(commune_boundary)}


@pytest.fixture(scope="module", params=(DEFAULT_SEED, *OTHER_SEEDS), ids=lambda s: f"seed{s}")
def any_seed_layers(request, commune_boundary):
    """The invariants must hold for any seed, not only the one the demo uses."""
    return {
        layer.slug: layer
        for layer in generate_libercourt_layers(commune_boundary, seed=request.param)
    }


def _snapshot(layer_list):
    return [
        (layer.slug, f.ref, f.geom.wkb, json.dumps(f.properties, sort_keys=True), f.owner)
        for layer in layer_list
        for f in layer.features
    ]


def _streets(layers_by_slug):
    return shapely.union_all([f.geom for f in layers_by_slug["voirie"].features])


def test_boundary_is_libercourt_in_lambert_93(commune_boundary):
    assert commune_boundary.is_valid
    assert 6.4e6 < commune_boundary.area < 6.9e6  # ~6.7 km²
    assert commune_boundary.contains(TOWN_HALL)
    minx, miny, maxx, maxy = commune_boundary.bounds
    assert 698_000 < minx < maxx < 702_500  # Lambert-93 metres, not degrees
    assert 7_041_000 < miny < maxy < 7_044_500


def test_same_seed_gives_identical_layers_and_another_seed_differs(commune_boundary, demo_layers):
    again = generate_libercourt_layers(commune_boundary, seed=DEFAULT_SEED)
    assert _snapshot(again) == _snapshot(demo_layers.values())
    assert _snapshot(generate_libercourt_layers()) == _snapshot(again)  # default boundary and seed

    other = {layer.slug: layer for layer in generate_libercourt_layers(commune_boundary, seed=1)}
    for slug in ("voirie", "eclairage-public", "parcs", "bornes-verre"):
        assert _snapshot([other[slug]]) != _snapshot([demo_layers[slug]]), slug


def test_generation_is_fast(commune_boundary):
    start = time.perf_counter()
    generate_libercourt_layers(commune_boundary, seed=7)
    assert time.perf_counter() - start < 3.0


def test_catalogue_counts_and_owners(any_seed_layers):
    assert set(any_seed_layers) == set(CATALOGUE)
    for slug, (domain, geom_type, prefix, _, owner, low, high) in CATALOGUE.items():
        layer = any_seed_layers[slug]
        assert isinstance(layer, DemoLayer)
        assert (layer.domain, layer.geometry_type, layer.identifier_prefix) == (
            domain,
            geom_type,
            prefix,
        )
        assert low <= len(layer.features) <= high, (slug, len(layer.features))
        assert {f.owner for f in layer.features} == {owner}, slug


def test_descriptions_say_the_data_is_synthetic(demo_layers):
    for layer in demo_layers.values():
        assert "données synthétiques" in layer.description.lower(), layer.slug
        assert layer.name


def test_every_feature_is_valid_and_inside_the_commune(any_seed_layers, commune_boundary):
    shapely.prepare(commune_boundary)
    for layer in any_seed_layers.values():
        for f in layer.features:
            assert isinstance(f, DemoFeature)
            assert f.geom.geom_type == layer.geometry_type, f.ref
            assert f.geom.is_valid and not f.geom.is_empty, f.ref
            assert commune_boundary.contains(f.geom), f.ref


def test_refs_are_unique_zero_padded_and_in_order(any_seed_layers):
    for slug, spec in CATALOGUE.items():
        prefix, digits = spec[2], spec[3]
        refs = [f.ref for f in any_seed_layers[slug].features]
        assert refs == [f"{prefix}-{n:0{digits}d}" for n in range(1, len(refs) + 1)], slug


def test_point_features_of_a_layer_are_at_least_3_m_apart(any_seed_layers):
    for layer in any_seed_layers.values():
        if layer.geometry_type != "Point":
            continue
        points = [f.geom for f in layer.features]
        left, right = shapely.STRtree(points).query(points, predicate="dwithin", distance=3.0)
        assert (left == right).all(), layer.slug


def test_attribute_schema_matches_every_feature(any_seed_layers):
    for layer in any_seed_layers.values():
        schema = {attr["name"]: attr for attr in layer.attribute_schema}
        assert len(schema) == len(layer.attribute_schema), layer.slug
        for attr in layer.attribute_schema:
            assert attr["type"] in JSON_TYPES and attr["label"], (layer.slug, attr)
        for f in layer.features:
            assert list(f.properties) == list(schema), f.ref
            for name, value in f.properties.items():
                expected = JSON_TYPES[schema[name]["type"]]
                assert type(value) is expected, (f.ref, name, value)
            json.dumps(f.properties)


def test_street_network_length_names_and_density(any_seed_layers):
    features = any_seed_layers["voirie"].features
    total = sum(f.geom.length for f in features)
    assert 45_000 <= total <= 60_000
    names = [f.properties["nom"] for f in features]
    assert len(set(names)) == len(names)
    assert {f.properties["categorie"] for f in features} == {"principale", "résidentielle"}
    mains = [f for f in features if f.properties["categorie"] == "principale"]
    assert sum(f.geom.length for f in mains) > 6_000  # a few long roads cross the town
    for f in features:
        assert f.properties["longueur_m"] == round(f.geom.length), f.ref
    # Dense centre, sparse outskirts: more street per km² near the town hall than further out.
    streets = _streets(any_seed_layers)
    centre = TOWN_HALL.buffer(600)
    ring = TOWN_HALL.buffer(1800).difference(TOWN_HALL.buffer(1200))
    density_centre = streets.intersection(centre).length / centre.area
    density_ring = streets.intersection(ring).length / ring.area
    assert density_centre > 2 * density_ring


def test_streetlights_line_the_streets(any_seed_layers):
    streets = {f.properties["nom"]: f.geom for f in any_seed_layers["voirie"].features}
    lights = any_seed_layers["eclairage-public"].features
    for f in lights:
        assert streets[f.properties["voie"]].distance(f.geom) <= 10.0, f.ref
        assert 1985 <= f.properties["annee_pose"] <= 2025
        assert f.properties["type"] in {"lanterne", "projecteur", "boule"}
        assert f.properties["source"] in {"LED", "SHP", "iodures"}
    # About one lamp every 25-40 m of street.
    assert 25 <= sum(g.length for g in streets.values()) / len(lights) <= 40


def test_parks_are_not_crossed_by_streets(any_seed_layers):
    streets = _streets(any_seed_layers)
    for f in any_seed_layers["parcs"].features:
        assert not streets.intersects(f.geom), f.ref
        assert 5_000 <= f.geom.area <= 40_000, f.ref
        assert f.properties["surface_m2"] == round(f.geom.area)


def test_playgrounds_sit_in_parks_or_blocks(any_seed_layers):
    streets = _streets(any_seed_layers)
    parks = [f.geom for f in any_seed_layers["parcs"].features]
    for f in any_seed_layers["aires-de-jeux"].features:
        assert 300 <= f.geom.area <= 1_500, f.ref
        assert not streets.intersects(f.geom), f.ref
        assert any(p.contains(f.geom) for p in parks) or not any(
            p.intersects(f.geom) for p in parks
        ), f.ref
        assert f.properties["age_min"] < f.properties["age_max"]


def test_trees_are_mostly_in_parks_never_in_playgrounds(any_seed_layers):
    parks = shapely.union_all([f.geom for f in any_seed_layers["parcs"].features])
    playgrounds = shapely.union_all([f.geom for f in any_seed_layers["aires-de-jeux"].features])
    trees = [f.geom for f in any_seed_layers["arbres"].features]
    in_parks = sum(parks.contains(t) for t in trees)
    assert in_parks > len(trees) / 2
    assert not any(playgrounds.contains(t) for t in trees)
    streets = _streets(any_seed_layers)
    assert all(parks.contains(t) or streets.distance(t) <= 12.0 for t in trees)


def test_bus_stops_come_in_pairs_along_main_roads(any_seed_layers):
    mains = shapely.union_all(
        [
            f.geom
            for f in any_seed_layers["voirie"].features
            if f.properties["categorie"] == "principale"
        ]
    )
    stops = any_seed_layers["arrets-bus"].features
    assert len(stops) % 2 == 0
    for first, second in zip(stops[::2], stops[1::2], strict=True):
        assert first.properties["nom"] == second.properties["nom"]
        assert first.geom.distance(second.geom) < 40
        assert mains.distance(first.geom) <= 10 and mains.distance(second.geom) <= 10
    assert len({f.properties["nom"] for f in stops}) == len(stops) // 2
    assert stops[0].properties["nom"] == "Mairie"
    assert stops[0].geom.distance(TOWN_HALL) < 300


def test_street_furniture_is_near_streets_or_parks(any_seed_layers):
    streets = _streets(any_seed_layers)
    green = shapely.union_all(
        [f.geom.buffer(8) for f in any_seed_layers["parcs"].features]
        + [f.geom.buffer(8) for f in any_seed_layers["aires-de-jeux"].features]
    )
    for slug in ("bancs", "corbeilles"):
        for f in any_seed_layers[slug].features:
            assert streets.distance(f.geom) <= 30 or green.contains(f.geom), f.ref
    for slug in ("bornes-verre", "bornes-textile"):
        for f in any_seed_layers[slug].features:
            assert 3 <= streets.distance(f.geom) <= 15, f.ref


def test_collection_points_are_spread_across_the_town(any_seed_layers):
    glass = [f.geom for f in any_seed_layers["bornes-verre"].features]
    nearest = [min(g.distance(o) for o in glass if o is not g) for g in glass]
    assert min(nearest) >= 100  # not bunched up
    textile = [f.geom for f in any_seed_layers["bornes-textile"].features]
    # Textile banks share glass sites, so residents drop both in one trip.
    assert all(min(t.distance(g) for g in glass) < 10 for t in textile)
    for f in any_seed_layers["bornes-verre"].features:
        assert f.properties["type"] in {"aérienne", "enterrée"}
        assert 2 <= f.properties["volume_m3"] <= 6
