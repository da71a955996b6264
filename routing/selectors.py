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
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from core.maps import reproject
from gis_layers.models import Feature
from organisations.models import Competence

from .models import Category, RoutingRule

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


# A drawn area may overlap the border of the territory where its organisation is competent by
# this much (hand-drawn areas follow streets that are the border).
RULE_AREA_MARGIN_M = 25


def rule_scope_errors(rule, categories=(), domains=(), communes=()) -> dict[str, list[str]]:
    """What a rule names beyond where its target's organisation is competent, by field (empty:
    nothing), for ``services.rule_check`` and the coverage check.

    Checked pair by pair: each domain named (or category's domain) must be one the
    organisation is competent for in at least one commune named (anywhere, if none); each
    commune named, one where it is competent for at least one domain named (any, if none);
    the drawn area must lie within those communes, RULE_AREA_MARGIN_M aside. So communes
    {A, B} and domains {X, Y} pass with competences (A, X) and (B, Y), although the rule also
    names (A, Y): harmless, since ``route_for`` applies a rule only to the decisions its
    organisation holds. Equipment is not part of the scope: an organisation owning equipment
    where another is competent (the CAHC's roads in a commune) has its rules applied to the
    reports on that equipment, but a rule naming that commune and domain is the operator's.
    """
    organisation = rule.target_service.organisation
    pairs = competence_pairs(organisation.pk)
    ids = [c.pk for c in categories]
    categories = list(Category.objects.select_related("domain").filter(pk__in=ids)) if ids else []
    domains, communes = list(domains), list(communes)
    domain_ids = {d.pk for d in domains} | {c.domain_id for c in categories}
    commune_ids = {c.pk for c in communes}
    # Where the rule can apply: the organisation's (commune, domain) pairs that it names.
    scope = {
        (c, d)
        for c, d in pairs
        if (not commune_ids or c in commune_ids) and (not domain_ids or d in domain_ids)
    }
    names = {"org": organisation.name}
    errors: dict[str, list[str]] = {}
    for name, domain in [("domains", d) for d in domains] + [
        ("categories", c.domain) for c in categories
    ]:
        if not any(d == domain.pk for _c, d in scope):
            errors.setdefault(name, []).append(
                _("%(org)s n'est pas compétente pour « %(domain)s » là où la règle s'applique.")
                % {**names, "domain": domain.name}
            )
    for commune in communes:
        if not any(c == commune.pk for c, _d in scope):
            errors.setdefault("communes", []).append(
                _("%(org)s n'est compétente à %(commune)s pour aucun domaine de la règle.")
                % {**names, "commune": commune.name}
            )
    if not errors and not scope:
        errors["target_service"] = [
            _("%(org)s n'est compétente nulle part pour ce que la règle désigne.") % names
        ]
    if not errors and rule.geom is not None:
        outside, touches = area_outside_communes(
            rule.geom, {c for c, _d in scope}, margin_m=RULE_AREA_MARGIN_M
        )
        if not touches:
            errors["geom"] = [
                _("La zone est entièrement hors du territoire où %(org)s est compétente.") % names
            ]
        elif outside > 0:
            errors["geom"] = [
                _(
                    "La zone déborde de %(area)s m² hors du territoire où %(org)s est "
                    "compétente : limitez-la à ce territoire."
                )
                % {**names, "area": number_format(round(outside), force_grouping=True)}
            ]
    return errors


def competence_pairs(organisation_id: int) -> set[tuple[int, int]]:
    """(commune id, domain id) pairs where the organisation is competent."""
    return set(
        Competence.objects.filter(organisation_id=organisation_id).values_list(
            "commune_id", "domain_id"
        )
    )


AREA_OUTSIDE_SQL = """
    SELECT ST_Area(ST_Difference(a.g, (
               SELECT ST_Buffer(ST_Union(c.geom), %(margin)s) FROM territory_commune c
               WHERE c.id = ANY(%(communes)s)))),
           EXISTS (SELECT 1 FROM territory_commune c
                   WHERE c.id = ANY(%(communes)s) AND ST_Intersects(a.g, c.geom))
    FROM (SELECT ST_GeomFromEWKB(%(area)s) AS g) a
"""


def area_outside_communes(area, commune_ids: set[int], *, margin_m: float) -> tuple[float, bool]:
    """How many square metres of ``area`` lie outside the communes widened by ``margin_m``, and
    whether it touches them at all (computed in PostGIS; with no commune, 0 and False: the
    caller's "entirely outside")."""
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


@dataclass(frozen=True)
class IdleRule:
    name: str
    organisation: str
    reason: str


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

    Two rules compete only for the decisions of one organisation (``route_for`` keeps the rules
    of the organisation holding the decision, and the operator's rules beyond competence): both
    target that organisation's services, or one of them reaches beyond. They overlap when their
    category, domain and commune conditions share a value (an empty condition matches
    everything), their areas intersect (no area means everywhere), and their validity periods
    overlap. Distance conditions are not compared: two distance rules of equal priority are
    listed, since their features may be anywhere.
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
        JOIN organisations_service sa ON sa.id = a.target_service_id
        JOIN organisations_service sb ON sb.id = b.target_service_id
        WHERE (sa.organisation_id = sb.organisation_id OR a.beyond_competence
               OR b.beyond_competence)
          AND (a.geom IS NULL OR b.geom IS NULL OR ST_Intersects(a.geom, b.geom))
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


def rules_without_effect(today: dt.date | None = None) -> list[IdleRule]:
    """Active rules that ``route_for`` discards, wholly or in part, and why: their target
    service is inactive, or they name more than where their organisation is competent without
    being the operator's (rules written before rules were bound to competences, migration
    routing.0003, take nothing there since): the reason is what the write check says today.
    Where their organisation owns equipment, such a rule still takes the reports on it."""
    today = today or timezone.localdate()
    rules = (
        RoutingRule.objects.filter(is_active=True, beyond_competence=False)
        .exclude(valid_until__lt=today)
        .select_related("target_service__organisation")
        .prefetch_related("categories", "domains", "communes")
        .order_by("name", "pk")
    )
    owners = set(
        Feature.objects.filter(owner_organisation__isnull=False)
        .values_list("owner_organisation_id", flat=True)
        .distinct()
    )
    idle = []
    for rule in rules:
        service = rule.target_service
        organisation = service.organisation
        if not service.is_active:
            reasons = [_("Le service « %(service)s » est inactif.") % {"service": service.name}]
        else:
            errors = rule_scope_errors(
                rule, rule.categories.all(), rule.domains.all(), rule.communes.all()
            )
            reasons = [message for messages in errors.values() for message in messages]
            if reasons and organisation.pk in owners:
                reasons.append(
                    _("Elle s'applique encore aux signalements sur un équipement de %(org)s.")
                    % {"org": organisation.name}
                )
        if reasons:
            idle.append(IdleRule(rule.name, organisation.name, " ".join(reasons)))
    return idle


ON_CALL_PLACEHOLDER = "{astreinte}"


def handling_message(category: Category, service_id: int | None = None) -> str:
    """The category's handling message as citizens read it: ``{astreinte}`` in it becomes the
    on-call number of the service handling the report (``service_id``, once routed), or, before
    the place is known, the one number that the domain's active services give; else it points
    to the contacts page, which lists every service's numbers."""
    from organisations.models import Service

    message = category.public_message
    if ON_CALL_PLACEHOLDER not in message:
        return message
    services = Service.objects.filter(is_active=True)
    if service_id is not None:
        services = services.filter(pk=service_id)
    else:
        services = services.filter(domains=category.domain_id)
    numbers = set(services.exclude(on_call_phone="").values_list("on_call_phone", flat=True))
    number = numbers.pop() if len(numbers) == 1 else _("voir la page Contacts")
    return message.replace(ON_CALL_PLACEHOLDER, number)


@dataclass(frozen=True)
class EquipmentMatch:
    pk: int
    ref: str
    layer_name: str
    fits_category: bool


def equipment_by_code(category: Category, code: str) -> list[EquipmentMatch]:
    """The equipment whose public code (the "ref" written on it, "EP-0154") is ``code``, case
    and surrounding spaces ignored, those of the category's layers first; staff name equipment
    this way (the routing simulator), not by its database id. A code of digits only that no
    equipment bears is still read as the id, as the simulator first asked."""
    code = code.strip()
    if not code:
        return []
    layer_ids = set(category.layers.values_list("pk", flat=True))
    features = list(
        Feature.objects.filter(ref__iexact=code[:100])
        .select_related("layer")
        .order_by("layer__name", "pk")[:10]
    )
    if not features and code.isdigit():
        features = list(Feature.objects.filter(pk=int(code)).select_related("layer"))
    matches = [EquipmentMatch(f.pk, f.ref, f.layer.name, f.layer_id in layer_ids) for f in features]
    return sorted(matches, key=lambda m: not m.fits_category)
