"""Writes on routing data: the category catalogue adapted from DansMaRue."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from django.conf import settings
from django.db import transaction

from gis_layers.models import Layer
from organisations.models import Domain

from .models import Category
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
                "extra_questions": questions_check(questions.get(row["slug"], [])),
                "position": position,
            },
        )
        wanted = [layers[s] for s in row["layers"].split(";") if s and s in layers]
        category.layers.set(wanted)
    return len(rows)
