"""Synthetic demo reports for Libercourt, so that a fresh demo shows a living portal: reports
at demo addresses, over the last two months, in every status, with replies and a transfer.

Deterministic (seed 62907), idempotent, and made through the real services (routing, timeline,
outbox). Contacts are at @demo.invalid, a domain that can never receive mail.
"""

from __future__ import annotations

import datetime as dt
import io
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import ServiceMembership, User
from addresses.models import Address
from routing.models import Category
from tracking import services as tracking
from tracking.models import CitizenRequest, Event

from .models import Report
from .photos import photo_check
from .services import report_create

SEED = 62907
DEMO_DOMAIN = "demo.invalid"
TEXTS = {
    "lampadaire-eteint": "Le lampadaire est éteint depuis plusieurs soirs, la rue est très sombre.",
    "nid-de-poule": "Nid-de-poule profond sur la chaussée, dangereux pour les vélos.",
    "trottoir-degrade": "Dalles du trottoir soulevées devant l'entrée de l'école.",
    "signalisation": "Panneau stop tordu, il n'est plus visible en arrivant au carrefour.",
    "depot-sauvage": "Dépôt de gravats et de vieux meubles au bord du chemin.",
    "corbeille-pleine": "La corbeille déborde depuis le week-end.",
    "tag-graffiti": "Tags sur le mur de la salle des sports.",
    "banc-degrade": "Le banc a une latte cassée.",
    "arbre-dangereux": "Une grosse branche pend au-dessus du trottoir après le coup de vent.",
    "borne-verre-pleine": "La borne à verre est pleine, des bouteilles sont posées à côté.",
    "fuite-eau": "De l'eau coule sur la chaussée depuis ce matin.",
    "avaloir-bouche": "L'avaloir est bouché, grosse flaque à chaque pluie.",
}
# Answers to the categories' extra questions (fixtures/category_questions.json).
ANSWERS = {
    "depot-sauvage": {"volume": "Plusieurs meubles ou gravats", "dangerous": False},
    "arbre-dangereux": {"blocking": True},
    "lampadaire-eteint": {"how_many": "Un seul"},
}
PLAN = (
    ["received"] * 10 + ["planned"] * 6 + ["in_progress"] * 6 + ["resolved"] * 12 + ["closed"] * 2
)


def _photo():
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 130, 140)).save(out, "JPEG")
    return photo_check(SimpleUploadedFile("demo.jpg", out.getvalue(), content_type="image/jpeg"))


def _agent_for(report: Report) -> User:
    membership = ServiceMembership.objects.filter(service_id=report.service_id).first()
    return membership.user if membership else User.objects.filter(is_superuser=True).first()


def demo_reports_load() -> int:
    """Create the demo reports once; returns how many were created (0 if already there)."""
    if Report.objects.filter(contact_email__endswith="@" + DEMO_DOMAIN).exists():
        return 0
    rng = random.Random(SEED)
    categories = {c.slug: c for c in Category.objects.filter(slug__in=TEXTS, is_active=True)}
    addresses = list(Address.objects.filter(is_synthetic=True).order_by("ban_id"))
    if not categories or not addresses:
        return 0
    now = timezone.now()
    created = 0
    for n, status in enumerate(PLAN):
        slug = rng.choice(sorted(categories))
        address = rng.choice(addresses)
        report = report_create(
            category=categories[slug],
            location=address.location,
            description=TEXTS[slug],
            contact_email=f"habitant{n:02d}@{DEMO_DOMAIN}",
            address_label=address.label,
            answers=ANSWERS.get(slug),
            photos=[_photo()] if categories[slug].photo_required else [],
        )
        agent = _agent_for(report)
        if status != "received":
            steps = {
                "planned": ["planned"],
                "in_progress": ["in_progress"],
                "resolved": ["planned", "resolved"],
                "closed": ["closed"],
            }[status]
            for step in steps:
                message = {
                    "planned": "Intervention prévue dans la semaine.",
                    "in_progress": "L'équipe est sur place.",
                    "resolved": "C'est réparé. Merci pour votre signalement.",
                    "closed": "Le problème n'a pas été constaté sur place.",
                }[step]
                tracking.request_set_status(report, status=step, actor=agent, message=message)
        # Spread the reports over the last two months, each line after the previous one.
        start = now - dt.timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 12))
        CitizenRequest.objects.filter(pk=report.pk).update(
            created_at=start, due_at=start + dt.timedelta(days=categories[slug].sla_days)
        )
        for k, event in enumerate(report.events.order_by("pk")):
            Event.objects.filter(pk=event.pk).update(at=start + dt.timedelta(days=k, hours=k))
        created += 1
    return created
