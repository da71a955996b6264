"""Routing decisions: one indexed PostGIS query, then a few lines of explainable Python.

The query (the routing_decide() function of migration routing.0002) gathers, for a point, a
category and optionally an equipment: the commune covering the point (with its organisation),
the organisation competent for the category's domain there, the equipment and its owner, the
active services of the candidate organisations, and every rule whose conditions hold. Python
then applies the order of precedence and writes the trace.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from core.maps import reproject
from organisations.models import Competence

from .models import Category

STORAGE_SRID = settings.GRC_STORAGE_SRID

# The decision query lives in the routing_decide() PL/pgSQL function (migration
# routing.0002) so that PostgreSQL caches its plan: see that migration for the SQL.
ROUTING_SQL = (
    "SELECT * FROM routing_decide(%(lon)s, %(lat)s, %(domain)s, %(category)s, "
    "%(equipment)s::bigint, %(today)s::date)"
)


@dataclass
class RoutingDecision:
    """Who handles a report at a place, and why (the trace is shown to agents and citizens)."""

    status: str  # routed | outside | not_on_board | no_service
    message: str
    service_id: int | None = None
    service_name: str = ""
    organisation_id: int | None = None
    organisation_name: str = ""
    commune: dict | None = None
    rule_id: int | None = None
    equipment: dict | None = None
    trace: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _step(trace: list[dict], step: str, outcome: str, **detail: Any) -> None:
    trace.append({"step": step, "outcome": outcome, **detail})


def route_for(
    *,
    location: Point,
    category: Category,
    equipment_id: int | None = None,
    today: dt.date | None = None,
) -> RoutingDecision:
    """Decide which service handles a report of ``category`` at ``location``.

    Precedence: (1) the owner of the equipment picked, if any; (2) the organisation competent for
    the category's domain on the commune; (3) the highest-priority matching rule refines (2), and
    refines (1) only within the owner's organisation; (4) the organisation's service for the
    domain, else its reception service. A commune not on the portal gets its contact instead; a
    point outside the CAHC is refused naming its commune.
    """
    point = reproject(location, 4326) if location.srid not in (None, 4326) else location
    if not (math.isfinite(point.x) and math.isfinite(point.y)) or not (
        -180 <= point.x <= 180 and -90 <= point.y <= 90
    ):
        # Callers validate coordinates; this keeps an impossible point from reaching PostGIS.
        return RoutingDecision(
            status="outside",
            message=_(
                "Coordonnées impossibles : longitude entre -180 et 180, latitude entre -90 et 90."
            ),
        )
    params = {
        "lon": point.x,
        "lat": point.y,
        "domain": category.domain_id,
        "category": category.pk,
        "equipment": equipment_id,
        "today": today or timezone.localdate(),
    }
    with connection.cursor() as cursor:
        cursor.execute(ROUTING_SQL, params)
        commune_json, competent_json, equipment_json, rules_json, services_json, swapped_json = (
            cursor.fetchone()
        )
    commune = json.loads(commune_json) if commune_json else None
    competent = json.loads(competent_json) if competent_json else None
    equipment = json.loads(equipment_json) if equipment_json else None
    rules = json.loads(rules_json) if rules_json else []
    services = json.loads(services_json) if services_json else []
    trace: list[dict] = []
    return _decide(category, commune, competent, equipment, rules, services, swapped_json, trace)


def _outside(commune: dict | None, swapped_json: str | None, trace: list[dict]) -> RoutingDecision:
    if commune is None:
        message = _("Ce point est hors du territoire couvert par le portail (CAHC).")
        if swapped_json:
            swapped = json.loads(swapped_json)
            message += " " + _(
                "Latitude et longitude inversées ? Inversées, elles tombent à %(name)s."
            ) % {"name": swapped["name"]}
        _step(trace, "territoire", "hors territoire")
        return RoutingDecision(status="outside", message=message, trace=trace)
    values = {k: commune.get(k) for k in ("name", "department", "epci_name")}
    message = (
        _(
            "Ce point se trouve à %(name)s (%(department)s), hors de la Communauté "
            "d'agglomération d'Hénin-Carvin : adressez-vous à la mairie de %(name)s ou à "
            "%(epci_name)s."
        )
        if commune.get("epci_name")
        else _(
            "Ce point se trouve à %(name)s (%(department)s), hors de la Communauté "
            "d'agglomération d'Hénin-Carvin : adressez-vous à la mairie de %(name)s."
        )
    ) % values
    _step(trace, "territoire", "hors CAHC", commune=commune["name"], insee=commune["insee"])
    return RoutingDecision(
        status="outside",
        message=message,
        trace=trace,
        commune={"insee": commune["insee"], "name": commune["name"], "member": False},
    )


def _contact(commune: dict) -> str:
    address = (commune.get("address") or "").replace("\n", ", ")
    return ", ".join(filter(None, [address, commune.get("phone"), commune.get("website")]))


def _decide(category, commune, competent, equipment, rules, services, swapped_json, trace):
    if commune is None or commune["epci_id"] is None:
        return _outside(commune, swapped_json, trace)
    where = {
        "id": commune["id"],
        "insee": commune["insee"],
        "name": commune["name"],
        "member": True,
    }
    _step(trace, "territoire", commune["name"], insee=commune["insee"])
    if equipment and equipment.get("owner_id"):
        org_id, org_name, on_board = (
            equipment["owner_id"],
            equipment["owner_name"],
            equipment["owner_on_board"],
        )
        _step(
            trace,
            "équipement",
            f"{equipment['ref']} ({equipment['layer_name']}) appartient à {org_name}",
            distance_m=equipment["distance_m"],
        )
    elif competent:
        org_id, org_name, on_board = competent["id"], competent["name"], competent["on_board"]
        _step(trace, "compétence", f"{category.domain.name} à {commune['name']} : {org_name}")
    else:
        _step(trace, "compétence", "aucune organisation compétente")
        return RoutingDecision(
            status="no_service",
            commune=where,
            trace=trace,
            message=_("Aucune organisation n'est désignée pour « %(domain)s » à %(commune)s.")
            % {"domain": category.domain.name, "commune": commune["name"]},
        )
    # A rule only refines the decision of the organisation that holds it (the equipment's
    # owner, else the competent one); a rule reaching beyond was written by the operator.
    eligible = [r for r in rules if r["organisation_id"] == org_id or r["beyond_competence"]]
    discarded = (
        f"autre organisation que le propriétaire ({org_name})"
        if equipment and equipment.get("owner_id")
        else f"hors des compétences de l'organisation destinataire ({org_name} est compétente)"
    )
    for rule in rules:
        _step(
            trace,
            "règle",
            "retenue" if eligible and rule is eligible[0] else "écartée",
            rule=rule["name"],
            rule_id=rule["id"],
            priority=rule["priority"],
            reason=None if rule in eligible else discarded,
        )
    if len(eligible) > 1 and eligible[0]["priority"] == eligible[1]["priority"]:
        _step(trace, "conflit", "règles de même priorité", rules=[r["name"] for r in eligible[:2]])
    if eligible:
        winner = eligible[0]
        return RoutingDecision(
            status="routed",
            commune=where,
            rule_id=winner["id"],
            equipment=equipment,
            trace=trace,
            service_id=winner["service_id"],
            service_name=winner["service_name"],
            organisation_id=winner["organisation_id"],
            organisation_name=org_name if winner["organisation_id"] == org_id else "",
            message=_("Votre signalement sera traité par : %(service)s.")
            % {"service": winner["service_name"]},
        )
    if not on_board:
        _step(trace, "portail", f"{org_name} n'utilise pas le portail")
        return RoutingDecision(
            status="not_on_board",
            commune=where,
            organisation_id=org_id,
            organisation_name=org_name,
            equipment=equipment,
            trace=trace,
            message=_(
                "%(organisation)s ne traite pas encore les signalements en ligne : contactez "
                "directement la mairie (%(contact)s)."
            )
            % {"organisation": org_name, "contact": _contact(commune)},
        )
    own = [s for s in services if s["organisation_id"] == org_id]
    chosen = next((s for s in own if s["handles"]), None)
    if chosen:
        _step(trace, "service", f"{chosen['name']} traite « {category.domain.name} »")
    else:
        chosen = next((s for s in own if s["is_reception"]), None)
        if chosen:
            _step(trace, "service", f"aucun service dédié : accueil ({chosen['name']})")
    if chosen is None:
        _step(trace, "service", "aucun service actif")
        return RoutingDecision(
            status="no_service",
            commune=where,
            organisation_id=org_id,
            organisation_name=org_name,
            equipment=equipment,
            trace=trace,
            message=_("%(organisation)s n'a pas de service pour « %(domain)s » sur le portail.")
            % {"organisation": org_name, "domain": category.domain.name},
        )
    return RoutingDecision(
        status="routed",
        commune=where,
        organisation_id=org_id,
        organisation_name=org_name,
        service_id=chosen["id"],
        service_name=chosen["name"],
        equipment=equipment,
        trace=trace,
        message=_("Votre signalement sera traité par : %(service)s (%(organisation)s).")
        % {"service": chosen["name"], "organisation": org_name},
    )


def competence_pairs(organisation_id: int) -> set[tuple[int, int]]:
    """(commune id, domain id) pairs where the organisation is competent."""
    return set(
        Competence.objects.filter(organisation_id=organisation_id).values_list(
            "commune_id", "domain_id"
        )
    )


AREA_OUTSIDE_SQL = """
    SELECT ST_Area(ST_Difference(a.g, ST_Buffer(ST_Union(c.geom), %(margin)s))),
           bool_or(ST_Intersects(a.g, c.geom))
    FROM territory_commune c CROSS JOIN (SELECT ST_GeomFromEWKB(%(area)s) AS g) a
    WHERE c.id = ANY(%(communes)s)
    GROUP BY a.g
"""


def area_outside_communes(area, commune_ids: set[int], *, margin_m: float) -> tuple[float, bool]:
    """How many square metres of ``area`` lie outside the communes widened by ``margin_m``, and
    whether it touches them at all (computed in PostGIS; an empty set leaves it all outside)."""
    if not commune_ids:
        return area.area, False
    with connection.cursor() as cursor:
        cursor.execute(
            AREA_OUTSIDE_SQL,
            {"area": bytes(area.ewkb), "communes": sorted(commune_ids), "margin": margin_m},
        )
        outside, touches = cursor.fetchone()
    return float(outside or 0), bool(touches)


@dataclass(frozen=True)
class CoverageGap:
    commune: str
    insee: str
    domain: str
    problem: str


@dataclass(frozen=True)
class RuleConflict:
    first: str
    second: str
    priority: int
    where: str


def coverage_gaps() -> list[CoverageGap]:
    """Commune and domain pairs (for domains that have categories) where no service would act.

    A pair is a gap when no organisation is competent, or when the competent organisation uses
    the portal but has neither an active service for the domain nor a reception service. Pairs
    whose organisation is not on the portal are not gaps: citizens get its contact.
    """
    sql = """
        SELECT c.name, c.insee, d.name,
               CASE WHEN k.id IS NULL THEN 'aucune organisation compétente'
                    ELSE o.name || ' n''a ni service pour ce domaine ni accueil' END
        FROM territory_commune c
        CROSS JOIN organisations_domain d
        LEFT JOIN organisations_competence k ON k.commune_id = c.id AND k.domain_id = d.id
        LEFT JOIN organisations_organisation o ON o.id = k.organisation_id
        WHERE c.epci_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM routing_category cat
                      WHERE cat.domain_id = d.id AND cat.is_active)
          AND (k.id IS NULL OR (o.on_board AND NOT EXISTS (
                SELECT 1 FROM organisations_service s
                WHERE s.organisation_id = o.id AND s.is_active AND (s.is_reception OR EXISTS (
                    SELECT 1 FROM organisations_service_domains sd
                    WHERE sd.service_id = s.id AND sd.domain_id = d.id)))))
        ORDER BY c.name, d.position
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [CoverageGap(*row) for row in cursor.fetchall()]


def rule_conflicts(today: dt.date | None = None) -> list[RuleConflict]:
    """Pairs of active rules of equal priority that can match the same report.

    Two rules overlap when their category, domain and commune conditions share a value (an empty
    condition matches everything), their areas intersect (no area means everywhere), and their
    validity periods overlap. Distance conditions are not compared: two distance rules of equal
    priority are listed, since their features may be anywhere.
    """
    sql = """
        WITH r AS (
            SELECT r.*,
                   ARRAY(SELECT category_id FROM routing_routingrule_categories x
                         WHERE x.routingrule_id = r.id) AS cats,
                   ARRAY(SELECT c.domain_id FROM routing_routingrule_categories x
                         JOIN routing_category c ON c.id = x.category_id
                         WHERE x.routingrule_id = r.id)
                   || ARRAY(SELECT domain_id FROM routing_routingrule_domains x
                            WHERE x.routingrule_id = r.id) AS doms,
                   ARRAY(SELECT commune_id FROM routing_routingrule_communes x
                         WHERE x.routingrule_id = r.id) AS comms
            FROM routing_routingrule r
            WHERE r.is_active AND (r.valid_until IS NULL OR r.valid_until >= %(today)s)
        )
        SELECT a.name, b.name, a.priority,
               CASE WHEN a.geom IS NOT NULL AND b.geom IS NOT NULL THEN
                        round(ST_Area(ST_Intersection(a.geom, b.geom))::numeric) || ' m² en commun'
                    ELSE 'tout le territoire des deux règles' END
        FROM r a JOIN r b ON a.id < b.id AND a.priority = b.priority
        WHERE (a.geom IS NULL OR b.geom IS NULL OR ST_Intersects(a.geom, b.geom))
          AND (cardinality(a.doms) = 0 OR cardinality(b.doms) = 0 OR a.doms && b.doms)
          AND (cardinality(a.cats) = 0 OR cardinality(b.cats) = 0 OR a.cats && b.cats)
          AND (cardinality(a.comms) = 0 OR cardinality(b.comms) = 0 OR a.comms && b.comms)
          AND (a.valid_from IS NULL OR b.valid_until IS NULL OR a.valid_from <= b.valid_until)
          AND (b.valid_from IS NULL OR a.valid_until IS NULL OR b.valid_from <= a.valid_until)
        ORDER BY a.priority DESC, a.name, b.name
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"today": today or timezone.localdate()})
        return [RuleConflict(*row) for row in cursor.fetchall()]
