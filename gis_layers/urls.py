from django.urls import path, re_path

from .api import ogc, views

layers_patterns = (
    [
        path("", views.layer_catalogue, name="catalogue"),
        path("<slug:slug>/features/", views.layer_features, name="features"),
    ],
    "layers",
)

ogc_patterns = (
    [
        path("", ogc.landing, name="landing"),
        path("conformance", ogc.conformance, name="conformance"),
        path("api", ogc.openapi, name="openapi"),
        path("collections", ogc.collections, name="collections"),
        path("collections/<slug:slug>", ogc.collection, name="collection"),
        path("collections/<slug:slug>/items", ogc.items, name="items"),
        re_path(
            r"^collections/(?P<slug>[-\w]+)/items/(?P<feature_id>[^/]+)$", ogc.item, name="item"
        ),
    ],
    "ogcapi",
)

tiles_patterns = (
    [path("<slug:slug>/<int:z>/<int:x>/<int:y>.mvt", views.tile, name="tile")],
    "tiles",
)
