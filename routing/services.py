"""Writes on routing data: the category catalogue adapted from DansMaRue, routing rules."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import permissions
from gis_layers.models import Layer
from organisations.models import Domain
from territory.models import Commune

from . import selectors
from .models import Category, PublicPosition, RoutingRule
from .questions import questions_check

CATEGORIES_CSV = Path(settings.BASE_DIR) / "fixtures" / "categories.csv"
QUESTIONS_JSON = Path(settings.BASE_DIR) / "fixtures" / "category_questions.json"


@transaction.atomic
def categories_load(*, path: Path = CATEGORIES_CSV) -> int:
    """Create or update the categories of the fixture (keyed by slug), with their layers.

    The fixture adapts the Paris DansMaRue nomenclature to a small town of the CAHC: Paris-only
    types are dropped, the rest is grouped by our domains of competence. Layers that do not
    exist (yet) are skipped, so the catalogue loads before the equipment layers do.
    """
    domains = {d.slug: d for d in Domain.objects.all()}
    layers = {layer.slug: layer for layer in Layer.objects.all()}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    questions = json.loads(QUESTIONS_JSON.read_text(encoding="utf-8"))
    for position, row in enumerate(rows):
        category, _ = Category.objects.update_or_create(
            slug=row["slug"],
            defaults={
                "name": row["name"],
                "domain": domains[row["domain"]],
                "keywords": row["keywords"],
                "allow_anonymous": row["allow_anonymous"] == "1",
                "photo_required": row["photo_required"] == "1",
                "sla_days": int(row["sla_days"]),
                "source_ids": row["dansmarue_ids"],
                "public_message": row["public_message"],
                # "hidden" for a problem at a person's home: the public sees the commune only
                "public_position": row.get("public_position") or PublicPosition.APPROXIMATE,
                "extra_questions": questions_check(questions.get(row["slug"], [])),
                "position": position,
            },
        )
        wanted = [layers[s] for s in row["layers"].split(";") if s and s in layers]
        category.layers.set(wanted)
    return len(rows)


# A drawn area may overlap the border of the territory where its organisation is competent by
# this much (hand-drawn areas follow streets that are the border).
RULE_AREA_MARGIN_M = 25


def rule_check(
    *,
    user,
    rule: RoutingRule,
    categories: Iterable[Category] = (),
    domains: Iterable[Domain] = (),
    communes: Iterable[Commune] = (),
) -> None:
    """Refuse, field by field (ValidationError), a rule that ``user`` may not write.

    Only the administrators of the target service's organisation write its rules, and those
    rules only refine decisions inside the territory and the domains where that organisation is
    competent: each commune, domain and category named, and the drawn area, must be some of
    them. A rule reaching beyond (``beyond_competence``) is the platform operator's. Whatever
    is saved, ``route_for`` applies a rule only to decisions its organisation already holds.
    """
    _check_author(user, rule)
    if rule.beyond_competence:
        return
    errors = _scope_errors(rule, list(categories), list(domains), list(communes))
    if errors:
        raise ValidationError(errors)


def _check_author(user, rule: RoutingRule) -> None:
    if permissions.can_write_routing_rule(
        user,
        organisation_id=rule.target_service.organisation_id,
        beyond_competence=rule.beyond_competence,
    ):
        return
    if rule.beyond_competence:
        raise ValidationError(
            {
                "beyond_competence": _(
                    "Seul l'opérateur de la plateforme peut écrire une règle qui dépasse "
                    "les compétences de l'organisation destinataire."
                )
            }
        )
    message = _("Vous ne pouvez aiguiller que vers les services de votre organisation.")
    raise ValidationError({"target_service": message})


def _scope_errors(rule, categories, domains, communes) -> dict[str, list[str]]:
    organisation = rule.target_service.organisation
    pairs = selectors.competence_pairs(organisation.pk)
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
    for field, domain in [("domains", d) for d in domains] + [
        ("categories", c.domain) for c in categories
    ]:
        if not any(d == domain.pk for _c, d in scope):
            errors.setdefault(field, []).append(
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
        outside, touches = selectors.area_outside_communes(
            rule.geom, {c for c, _d in scope}, margin_m=RULE_AREA_MARGIN_M
        )
        if not touches:
            errors["geom"] = [
                _("La zone est entièrement hors du territoire où %(org)s est compétente.") % names
            ]
        elif outside > 0:
            area = f"{outside:,.0f}".replace(",", "\u202f")
            errors["geom"] = [
                _(
                    "La zone déborde de %(area)s m² hors du territoire où %(org)s est "
                    "compétente : limitez-la à ce territoire."
                )
                % {**names, "area": area}
            ]
    return errors


@transaction.atomic
def rule_save(
    *,
    user,
    rule: RoutingRule,
    categories: Iterable[Category] = (),
    domains: Iterable[Domain] = (),
    communes: Iterable[Commune] = (),
) -> RoutingRule:
    """Check (``rule_check``, then the model's own checks) and store a routing rule with its
    conditions. The admin form runs the same check before saving."""
    categories, domains, communes = list(categories), list(domains), list(communes)
    rule_check(user=user, rule=rule, categories=categories, domains=domains, communes=communes)
    rule.full_clean()
    rule.save()
    rule.categories.set(categories)
    rule.domains.set(domains)
    rule.communes.set(communes)
    return rule
