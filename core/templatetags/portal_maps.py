"""The map configuration (core.maps.map_config) for templates that no view of ours renders:
the admin's forms with a map widget (templates/admin/change_form.html)."""

from django import template
from django.utils.html import json_script
from leaflet.forms.widgets import LeafletWidget

from core.maps import map_config

register = template.Library()


@register.simple_tag
def map_config_script() -> str:
    """``<script id="map-config" type="application/json">``: what own-data.js reads."""
    return json_script(map_config(), "map-config")


@register.filter
def has_map_widget(form) -> bool:
    """Whether the form edits a geometry on a map (django-leaflet's widget)."""
    return any(isinstance(field.widget, LeafletWidget) for field in form.fields.values())
