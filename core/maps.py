"""The map configuration handed to pages: basemap (IGN, OSM or none) and the initial view."""

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
