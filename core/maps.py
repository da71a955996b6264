"""The map configuration handed to pages: basemap (IGN, OSM or none), the initial view, our own
context layers (static/js/own-data.js) and how each report status is drawn."""

import threading

from django.conf import settings

STREETS_LAYER = "voirie"
EQUIPMENT_GEOMETRIES = ("Point", "MultiPoint")

# How a report is drawn on the public map, per status: a colour with a contrast of at least 3:1
# against the map's background (#eef1f4) and white (WCAG 1.4.11), and a shape of its own, so that
# the status is never told by colour alone. Shapes are polygons in a unit square (y downwards)
# or "circle"; "hollow" draws the outline only. The legend (templates/reports/_status_legend.html)
# and the markers (static/js/reports-map.js) are both drawn from this table.
MAP_BACKGROUND = "#eef1f4"


def _polygon(points: str) -> list[list[float]]:
    return [[float(v) for v in xy.split(",")] for xy in points.split()]


STATUS_STYLES = {
    "received": {"colour": "#ce0500", "shape": "circle"},
    "planned": {"colour": "#a558a0", "shape": _polygon("-.8,-.8 .8,-.8 .8,.8 -.8,.8")},
    "in_progress": {"colour": "#0063cb", "shape": _polygon("0,-1 1,0 0,1 -1,0")},
    "resolved": {"colour": "#18753c", "shape": _polygon("0,-1 .95,.75 -.95,.75")},
    "closed": {  # a cross
        "colour": "#3a3a3a",
        "shape": _polygon("-1,-.6 -.6,-1 0,-.4 .6,-1 1,-.6 .4,0 1,.6 .6,1 0,.4 -.6,1 -1,.6 -.4,0"),
    },
    "transferred_out": {  # an arrow
        "colour": "#53657d",
        "shape": _polygon("-1,-.35 .1,-.35 .1,-.9 1,0 .1,.9 .1,.35 -1,.35"),
    },
    "duplicate": {"colour": "#666666", "shape": "circle", "hollow": True},
}
CLUSTER_STYLE = {"colour": "#000091"}


def _svg_path(shape, size: float = 20.0) -> str:
    """The shape as an SVG path in a ``size``-wide square (the legend's drawing)."""
    half = size / 2
    radius = half - 2
    if shape == "circle":
        return (
            f"M{half - radius:g} {half:g}a{radius:g} {radius:g} 0 1 0 {2 * radius:g} 0"
            f"a{radius:g} {radius:g} 0 1 0 {-2 * radius:g} 0Z"
        )
    points = [f"{half + x * radius:.2f} {half + y * radius:.2f}" for x, y in shape]
    return "M" + "L".join(points) + "Z"


def status_legend() -> list[dict]:
    """Each status with its label, colour and shape (as an SVG path), in the statuses' order:
    the legend beside the map and the list's markers."""
    from tracking.models import Status

    return [
        {
            "value": value,
            "label": label,
            "colour": STATUS_STYLES[value]["colour"],
            "hollow": STATUS_STYLES[value].get("hollow", False),
            "path": _svg_path(STATUS_STYLES[value]["shape"]),
        }
        for value, label in Status.choices
    ]


def map_config() -> dict:
    """What a page's map needs: the basemap, the view, our own context layers (communes, the
    streets layer and the equipment layers when public) and the report statuses' styles."""
    from django.urls import reverse

    from gis_layers.models import Layer

    basemap = settings.BASEMAPS.get(settings.BASEMAP)
    public = Layer.objects.filter(visibility=Layer.Visibility.PUBLIC)
    layers = list(public.order_by("name").values_list("slug", "name", "geometry_type"))
    streets = any(slug == STREETS_LAYER for slug, _, _ in layers)
    leaflet = settings.LEAFLET_CONFIG
    return {
        "center": list(leaflet["DEFAULT_CENTER"]),
        "zoom": leaflet["DEFAULT_ZOOM"],
        "minZoom": leaflet["MIN_ZOOM"],
        "maxZoom": leaflet["MAX_ZOOM"],
        "communesUrl": reverse("api:communes"),
        "streetsUrl": reverse("layers:features", args=[STREETS_LAYER]) + "?limit=10000"
        if streets
        else None,
        # Public equipment, read per viewport at street zooms and labelled by its number.
        "equipment": [
            {"slug": slug, "name": name, "url": reverse("layers:features", args=[slug])}
            for slug, name, geometry in layers
            if slug != STREETS_LAYER and geometry in EQUIPMENT_GEOMETRIES
        ],
        "statuses": STATUS_STYLES,
        "cluster": CLUSTER_STYLE,
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
