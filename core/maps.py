"""The map configuration handed to pages: basemap (IGN, OSM or none) and the initial view."""

import threading

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


# GDAL's coordinate transformations must not be shared between threads (a Celery worker with
# threads, runserver, a threaded gunicorn): each thread keeps its own.
_transforms = threading.local()


def _coord_transform(source: int, target: int):
    from django.contrib.gis.gdal import CoordTransform, SpatialReference

    cache = getattr(_transforms, "by_pair", None)
    if cache is None:
        cache = _transforms.by_pair = {}
    key = (source, target)
    if key not in cache:
        cache[key] = CoordTransform(SpatialReference(source), SpatialReference(target))
    return cache[key]


def reproject(geometry, srid: int):
    """A copy of ``geometry`` in ``srid``. The PROJ transformation is built once per pair of
    SRIDs and per thread, and kept: building it costs about 2 ms, applying it microseconds."""
    if geometry.srid == srid:
        return geometry.clone()
    return geometry.transform(_coord_transform(geometry.srid, srid), clone=True)
