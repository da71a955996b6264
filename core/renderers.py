from rest_framework.renderers import BaseRenderer


class GeoJSONRenderer(BaseRenderer):
    """Passes through GeoJSON text built by PostGIS (never re-serialized in Python)."""

    media_type = "application/geo+json"
    format = "geojson"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode() if isinstance(data, str) else data
