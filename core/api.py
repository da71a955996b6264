"""Small helpers shared by the API views."""

from __future__ import annotations

import math

from django.utils.translation import gettext as _
from rest_framework import serializers


def coordinate(raw, name: str, low: float, high: float) -> float:
    """A finite number within [low, high], from a query string or a JSON value; 400 otherwise."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        raise serializers.ValidationError({name: _("%(name)s est obligatoire.") % {"name": name}})
    if isinstance(raw, bool):
        raise serializers.ValidationError(
            {name: _("%(name)s doit être un nombre.") % {"name": name}}
        )
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise serializers.ValidationError(
            {name: _("%(name)s doit être un nombre.") % {"name": name}}
        ) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise serializers.ValidationError(
            {
                name: _("%(name)s doit être compris entre %(low)s et %(high)s.")
                % {"name": name, "low": low, "high": high}
            }
        )
    return value
