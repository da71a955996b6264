"""The map configuration handed to pages: basemap (IGN, OSM or none) and the initial view."""

import functools

from django.conf import settings

STREETS_LAYER = "voirie"


def map_config() -> dict:
    """What a page's map needs: the basemap, the view, and our own streets layer if public."""
    from django.urls import reverse

    from gis_layers.models import Layer

    basemap = settings.BASEMAPS.get(settings.BASEMAP)
    streets = Layer.objects.filter(slug=STREETS_LAYER, visibility=Layer.Visibility.PUBLIC).exists()
    leaflet = settings.LEAFLET_CONFIG
    return {
        "center": list(leaflet["DEFAULT_CENTER"]),
        "zoom": leaflet["DEFAULT_ZOOM"],
        "minZoom": leaflet["MIN_ZOOM"],
        "maxZoom": leaflet["MAX_ZOOM"],
        "streetsUrl": reverse("layers:features", args=[STREETS_LAYER]) + "?limit=10000"
        if streets
        else None,
        "basemap": (
            {
                "url": basemap["url"],
                "attribution": basemap["attribution"],
                "maxZoom": basemap["max_zoom"],
            }
            if basemap
            else None
        ),
    }


@functools.lru_cache(maxsize=16)
def _coord_transform(source: int, target: int):
    from django.contrib.gis.gdal import CoordTransform, SpatialReference

    return CoordTransform(SpatialReference(source), SpatialReference(target))


def reproject(geometry, srid: int):
    """A copy of ``geometry`` in ``srid``. The PROJ transformation is built once per pair of
    SRIDs and kept: building it costs about 2 ms, applying it microseconds."""
    if geometry.srid == srid:
        return geometry.clone()
    return geometry.transform(_coord_transform(geometry.srid, srid), clone=True)
