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


def rule_check(
    *,
    user,
    rule: RoutingRule,
    categories: Iterable[Category] = (),
    domains: Iterable[Domain] = (),
    communes: Iterable[Commune] = (),
) -> None:
    """Refuse, field by field (ValidationError), a rule that ``user`` may not write.

    Only the administrators of the target service's organisation write its rules (the
    operator's own rules, ``beyond_competence``, stay the operator's). An active rule must
    stay where that organisation is competent (``selectors.rule_scope_errors``, which says
    how closely); a rule reaching beyond is the platform operator's. A rule being deactivated
    is not checked against its scope: it takes nothing, and a rule the check would now refuse
    (written before it existed) must be possible to switch off. Whatever is saved, ``route_for``
    applies a rule only to decisions its organisation already holds.
    """
    _check_author(user, rule)
    if rule.beyond_competence or not rule.is_active:
        return
    errors = selectors.rule_scope_errors(rule, categories, domains, communes)
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
    conditions: the one write path, the admin's included (its form also runs ``rule_check``
    to show the errors beside the fields)."""
    categories, domains, communes = list(categories), list(domains), list(communes)
    rule_check(user=user, rule=rule, categories=categories, domains=domains, communes=communes)
    rule.full_clean()
    rule.save()
    rule.categories.set(categories)
    rule.domains.set(domains)
    rule.communes.set(communes)
    return rule
