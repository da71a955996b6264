"""Address search in PostgreSQL (trigram word similarity), and the pluggable backends."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from core.maps import STREETS_LAYER

from .services import normalise

MAX_QUERY = 200
_LEADING_NUMBER = re.compile(r"^(\d{1,5})\b")


@dataclass(frozen=True)
class AddressHit:
    label: str
    lon: float
    lat: float
    insee: str
    city: str
    score: float

    def as_dict(self) -> dict:
        return asdict(self)


SEARCH_SQL = """
    SELECT label, ST_X(p), ST_Y(p), insee, city, score
    FROM (
        SELECT label, ST_Transform(location, 4326) AS p, insee, city, number,
               street, suffix, word_similarity(%(q)s, search_text) AS score
        FROM addresses_address
        WHERE %(q)s <%% search_text  -- the GIN trigram index
    ) hits
    ORDER BY (number IS NOT DISTINCT FROM %(number)s) DESC, score DESC, street,
             number NULLS FIRST, suffix
    LIMIT %(limit)s
"""


def address_search(query: str, *, limit: int = 10) -> list[AddressHit]:
    """Addresses of the territory matching what was typed ("12 rue des tilleuls", "tilleul
    libercourt"), accents and case ignored, typos tolerated; the house number typed first."""
    q = normalise(query[:MAX_QUERY])
    if len(q) < 3:
        return []
    match = _LEADING_NUMBER.match(q)
    params = {"q": q, "number": int(match.group(1)) if match else None, "limit": limit}
    # The threshold of the indexed "<%" operator, for this transaction only.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL pg_trgm.word_similarity_threshold = 0.5")
        cursor.execute(SEARCH_SQL, params)
        rows = cursor.fetchall()
    return [
        AddressHit(label, round(lon, 6), round(lat, 6), insee, city, round(score, 3))
        for label, lon, lat, insee, city, score in rows
    ]


class LocalBackend:
    """The address table in our database: works offline (the default)."""

    def search(self, query: str, *, limit: int = 10) -> list[AddressHit]:
        return address_search(query, limit=limit)


class BanApiBackend:
    """The BAN web API (api-adresse.data.gouv.fr), for production where it is reachable.

    Results outside the portal's communes are dropped. A network failure falls back to the local
    table, so that the search keeps working.
    """

    def __init__(self, url: str, timeout: float = 2.0):
        self.url, self.timeout = url, timeout

    def search(self, query: str, *, limit: int = 10) -> list[AddressHit]:
        from territory.models import Commune

        params = urllib.parse.urlencode({"q": query[:MAX_QUERY], "limit": limit * 2})
        try:
            with urllib.request.urlopen(f"{self.url}?{params}", timeout=self.timeout) as answer:  # noqa: S310 (configured https URL)
                data = json.load(answer)
        except (OSError, ValueError):
            return address_search(query, limit=limit)
        ours = set(Commune.objects.filter(epci__isnull=False).values_list("insee", flat=True))
        hits = []
        for feature in data.get("features", []):
            props, (lon, lat) = feature["properties"], feature["geometry"]["coordinates"]
            if props.get("citycode") in ours:
                hits.append(
                    AddressHit(
                        props.get("label", ""),
                        round(lon, 6),
                        round(lat, 6),
                        props["citycode"],
                        props.get("city", ""),
                        round(float(props.get("score", 0)), 3),
                    )
                )
        return hits[:limit]


def address_backend() -> LocalBackend | BanApiBackend:
    if settings.GRC_ADDRESS_BACKEND == "ban":
        return BanApiBackend(settings.GRC_BAN_API_URL)
    return LocalBackend()


# Reverse geocoding: what a point clicked on a map is near.
NEAR_ADDRESS_M = 100
NEAR_STREET_M = 100


@dataclass(frozen=True)
class NearestPlace:
    """What a point is near: an address (within NEAR_ADDRESS_M), else a named street (within
    NEAR_STREET_M), else only the commune it lies in."""

    kind: str  # "address", "street" or "commune"
    street: str
    number: int | None
    suffix: str
    postcode: str
    city: str
    distance_m: float | None

    @property
    def text(self) -> str:
        """What the citizen reads under the map and what the report keeps as its address."""
        if self.kind == "address":
            number = f"{self.number}{' ' + self.suffix if self.suffix else ''}"
            return _("Près du %(number)s %(street)s, %(city)s") % {
                "number": number,
                "street": self.street,
                "city": self.city,
            }
        if self.kind == "street":
            return _("Près de : %(street)s, %(city)s") % {"street": self.street, "city": self.city}
        return _("À %(city)s") % {"city": self.city}


# Three nearest-neighbour lookups in one statement, each served by its GiST index (the
# address points; the streets layer's (layer_id, geom) index; the commune pieces), on the
# storage SRID so that distances are metres and the indexes apply.
NEAREST_SQL = """
    WITH p AS (
        SELECT ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(srid)s) AS g
    )
    SELECT a.number, a.suffix, a.street, a.postcode, a.city, a.d,
           s.name, s.d, c.name
    FROM p
    LEFT JOIN LATERAL (
        SELECT number, suffix, street, postcode, city, ST_Distance(location, p.g) AS d
        FROM addresses_address
        WHERE number IS NOT NULL
        ORDER BY location <-> p.g
        LIMIT 1
    ) a ON a.d <= %(address_m)s
    LEFT JOIN LATERAL (
        SELECT f.properties ->> 'nom' AS name, ST_Distance(f.geom, p.g) AS d
        FROM gis_layers_feature f
        WHERE f.layer_id = (
            SELECT id FROM gis_layers_layer WHERE slug = %(streets)s AND visibility = 'public'
        ) AND f.properties ? 'nom'
        ORDER BY f.geom <-> p.g
        LIMIT 1
    ) s ON s.d <= %(street_m)s
    LEFT JOIN LATERAL (
        SELECT c.name
        FROM territory_communepart cp
        JOIN territory_commune c ON c.id = cp.commune_id
        WHERE ST_Covers(cp.geom, p.g)
        ORDER BY c.epci_id IS NULL, c.insee  -- on a border, the commune routing names
        LIMIT 1
    ) c ON true
"""


def place_near(lon: float, lat: float) -> NearestPlace | None:
    """Reverse geocoding from our own tables, in one query: the nearest address within
    NEAR_ADDRESS_M of the point; else the nearest named street (streets layer) within
    NEAR_STREET_M, in the commune the point lies in; else that commune; None outside every
    commune we know."""
    params = {
        "srid": settings.GRC_STORAGE_SRID,
        "lon": lon,
        "lat": lat,
        "address_m": NEAR_ADDRESS_M,
        "street_m": NEAR_STREET_M,
        "streets": STREETS_LAYER,
    }
    with connection.cursor() as cursor:
        cursor.execute(NEAREST_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    number, suffix, street, postcode, city, distance, street_name, street_d, commune = row
    if street is not None:
        return NearestPlace("address", street, number, suffix, postcode, city, round(distance, 1))
    if commune is None:
        return None
    if street_name:
        return NearestPlace("street", street_name, None, "", "", commune, round(street_d, 1))
    return NearestPlace("commune", "", None, "", "", commune, None)
