"""The map configuration handed to pages: basemap (IGN, OSM or none) and the initial view."""

from django.conf import settings


def map_config() -> dict:
    basemap = settings.BASEMAPS.get(settings.BASEMAP)
    leaflet = settings.LEAFLET_CONFIG
    return {
        "center": list(leaflet["DEFAULT_CENTER"]),
        "zoom": leaflet["DEFAULT_ZOOM"],
        "minZoom": leaflet["MIN_ZOOM"],
        "maxZoom": leaflet["MAX_ZOOM"],
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
