"""Parsing and validating query parameters: every bad value becomes a 400 with its reason."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django.core import signing
from django.utils.translation import gettext as _

from gis_layers.selectors import BBox

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000
MAX_OFFSET = 10_000_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")


class BadParameter(ValueError):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def parse_bbox(raw: str | None) -> BBox | None:
    """``minLon,minLat,maxLon,maxLat`` in WGS84 (OGC API bbox, CRS84)."""
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) == 6:  # a 3D bbox: keep the horizontal part
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise BadParameter("bbox", _("bbox attend 4 nombres : minLon,minLat,maxLon,maxLat."))
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise BadParameter("bbox", _("bbox ne contient pas que des nombres.")) from None
    if not all(math.isfinite(v) for v in values):
        raise BadParameter("bbox", _("bbox contient une valeur non finie (NaN ou infini)."))
    minx, miny, maxx, maxy = values
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise BadParameter("bbox", _("bbox hors des limites WGS84 (longitude ±180, latitude ±90)."))
    if minx > maxx or miny > maxy:
        raise BadParameter("bbox", _("bbox inversée : le minimum dépasse le maximum."))
    return BBox(minx, miny, maxx, maxy)


def parse_int(raw: str | None, name: str, *, default: int, minimum: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, _("%(name)s doit être un entier.") % {"name": name}) from None
    if value < minimum:
        raise BadParameter(
            name, _("%(name)s doit être au moins %(n)s.") % {"name": name, "n": minimum}
        )
    if value > maximum:
        raise BadParameter(
            name, _("%(name)s ne peut dépasser %(n)s.") % {"name": name, "n": maximum}
        )
    return value


def parse_properties(raw: str | None, allowed: list[str]) -> list[str] | None:
    """A comma-separated subset of the layer's attribute names (``ref`` is always included)."""
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip() and n.strip() != "ref"]
    for name in names:
        if not _NAME.match(name) or name not in allowed:
            raise BadParameter(
                "properties",
                _("Propriété inconnue pour cette couche : %(name)s.") % {"name": name[:64]},
            )
    return list(dict.fromkeys(names))


def parse_viewport(params) -> tuple[BBox, int]:
    """A map viewport: the required ``bbox`` and ``zoom`` (0 to 22) of map-drawing APIs."""
    bbox = parse_bbox(params.get("bbox"))
    if bbox is None:
        raise BadParameter("bbox", _("bbox est obligatoire."))
    if not params.get("zoom"):
        raise BadParameter("zoom", _("zoom est obligatoire (0 à 22)."))
    return bbox, parse_int(params.get("zoom"), "zoom", default=0, minimum=0, maximum=22)


# --- Keyset pages ---------------------------------------------------------------------------------

_AFTER_SALT = "gis_layers.items.after"
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class After:
    """Where a keyset page starts: after feature ``last_id``, ``position`` features in."""

    last_id: int
    position: int


def _bbox_key(bbox: BBox | None) -> str:
    return "" if bbox is None else ",".join(repr(v) for v in bbox.as_params())


def after_token(slug: str, bbox: BBox | None, last_id: int, position: int) -> str:
    """The ``after`` value of a next link: signed, so that it cannot be forged or moved to
    another layer or bbox (the server would otherwise trust its id and its position)."""
    return signing.Signer(salt=_AFTER_SALT).sign_object(
        [slug, _bbox_key(bbox), last_id, position], compress=False
    )


def parse_after(raw: str | None, slug: str, bbox: BBox | None) -> After | None:
    """The ``after`` of a next link, checked before any query (BadParameter if it was
    altered, or belongs to another layer or bbox)."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) > MAX_TOKEN_LENGTH:
            raise signing.BadSignature
        token_slug, key, last_id, position = signing.Signer(salt=_AFTER_SALT).unsign_object(raw)
    except (signing.BadSignature, ValueError, TypeError):
        raise BadParameter(
            "after", _("jeton de page invalide : suivez le lien « next » tel quel.")
        ) from None
    if token_slug != slug or key != _bbox_key(bbox):
        raise BadParameter(
            "after", _("ce jeton de page appartient à une autre collection ou à une autre bbox.")
        )
    if not (isinstance(last_id, int) and isinstance(position, int)):
        raise BadParameter("after", _("jeton de page invalide : suivez le lien « next » tel quel."))
    return After(last_id, position)
