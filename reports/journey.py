"""The citizen's reporting journey (/signaler/): server-rendered, in steps that work without
JavaScript and by keyboard; the map only fills the same fields.

Steps, each a button posting the form back (``action``): choose the problem; place it (map
click, address search, or the number on the equipment); see who will handle it, the equipment
around and the open reports already there ("me too"); describe it, add photos and contact
details, read the privacy notice, send.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from addresses.selectors import address_backend
from core import ratelimit
from core.maps import map_config
from organisations.models import Service
from routing.models import Category
from routing.selectors import RoutingDecision, route_for
from tracking.models import Channel

from . import selectors, services
from .forms import ReportForm, add_service_errors
from .photos import photo_check, photos_check

# Actions that store something or decode a photo: counted as attempts before any work.
WRITE_ACTIONS = ("metoo", "submit", "photo")


@dataclass
class Place:
    lon: float | None = None
    lat: float | None = None
    label: str = ""
    address_hits: list = field(default_factory=list)
    equipment_hits: list = field(default_factory=list)
    decision: RoutingDecision | None = None
    service: Service | None = None
    duplicates: list = field(default_factory=list)
    notice: str = ""
    picked: int | None = None  # the equipment found by its number
    photo_position: tuple[float, float] | None = None  # offered, used only if confirmed

    @property
    def known(self) -> bool:
        return self.lon is not None and self.lat is not None


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _float(raw: str | None, limit: float) -> float | None:
    """A finite number within ±limit, or None (what a map or a tampered form may post)."""
    try:
        value = float(raw) if raw not in (None, "") else None
    except ValueError:
        return None
    if value is None or not math.isfinite(value) or abs(value) > limit:
        return None
    return value


def _photo_position(upload) -> tuple[tuple[float, float] | None, str]:
    """The GPS position written in a photo (read, then the photo is dropped), and a notice."""
    if upload is None:
        return None, _("Choisissez une photo.")
    try:
        checked = photo_check(upload, name=_("La photo"))
    except ValidationError as exc:
        return None, " ".join(exc.messages)
    if checked.gps is None:
        return None, _("Cette photo ne contient pas de position : utilisez la carte ou l'adresse.")
    return checked.gps, ""


def _place(data, category: Category | None, action: str, files=None) -> Place:
    """Where the report is, from what was posted: an address picked, a plate number, the map."""
    place = Place(
        lon=_float(data.get("lon"), 180),
        lat=_float(data.get("lat"), 90),
        label=data.get("address_label", "")[:255],
    )
    if action == "search":
        query = data.get("address_query", "").strip()
        if len(query) < 3:
            place.notice = _("Tapez au moins 3 caractères de l'adresse.")
        else:
            place.address_hits = address_backend().search(query, limit=8)
            if not place.address_hits:
                place.notice = _(
                    "Aucune adresse trouvée : vérifiez l'orthographe ou utilisez la carte."
                )
        return place
    if action == "photo":
        place.photo_position, place.notice = _photo_position((files or {}).get("place_photo"))
        return place
    choice = data.get("address_choice", "")
    if action == "locate" and choice.count("|") >= 2:
        lon, lat, label = choice.split("|", 2)
        place.lon, place.lat, place.label = _float(lon, 180), _float(lat, 90), label[:255]
    if action == "find" and category is not None:
        hits = selectors.equipment_by_ref(category, data.get("equipment_ref", ""))
        if hits:
            place.lon, place.lat, place.label = hits[0].lon, hits[0].lat, ""
            place.picked = hits[0].id
        else:
            place.notice = _("Aucun équipement de ce type ne porte ce numéro.")
    if place.known and category is not None:
        # the equipment picked decides before the place (its owner handles it), as at submit;
        # a new place forgets the equipment picked at the old one
        stale = action in ("locate", "find")
        equipment = place.picked or (None if stale else _int(data.get("equipment", "")))
        place.decision = route_for(
            location=Point(place.lon, place.lat, srid=4326),
            category=category,
            equipment_id=equipment,
        )
        if place.decision.service_id:
            place.service = Service.objects.select_related("organisation").get(
                pk=place.decision.service_id
            )
        place.equipment_hits = selectors.equipment_near(category, lon=place.lon, lat=place.lat)
        place.duplicates = selectors.open_reports_near(
            category, lon=place.lon, lat=place.lat, equipment_id=equipment
        )
    return place


def _enter_action(data) -> str:
    """Enter pressed in a field (the form's first button, hidden): the lookup whose field was
    typed in since the last one, the address first; else, while found addresses (or a photo's
    position) are offered, the one checked; otherwise the page again. Never the send: a report
    goes only with its own button."""
    query = data.get("address_query", "").strip()
    if query and query != data.get("searched", "").strip():
        return "search"
    ref = data.get("equipment_ref", "").strip()
    if ref and ref != data.get("found_ref", "").strip():
        return "find"
    if data.get("address_choice"):  # only posted while choices are on the page
        return "locate"
    return ""


def report_new(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    action = request.POST.get("action") or ("metoo" if "metoo" in request.POST else "")
    if action == "enter":
        action = _enter_action(data)
    category = (
        Category.objects.select_related("domain")
        .filter(slug=data.get("category", ""), is_active=True)
        .first()
    )
    # Before any work (a photo decoded, a form checked): a flood stops here.
    refusal = ratelimit.check(request, "attempt") if action in WRITE_ACTIONS else None
    place = _place(data, category, "" if refusal else action, request.FILES)
    posted = None
    if request.method == "POST":
        # The place found at this step (an address picked, a plate) goes back into the form.
        posted = request.POST.copy()
        if place.known:
            for key, value in (
                ("lon", place.lon),
                ("lat", place.lat),
                ("address_label", place.label),
            ):
                posted[key] = value  # replaces (QueryDict.update would append)
        if action in ("locate", "find"):
            posted.pop("equipment", None)
        if place.picked:
            posted["equipment"] = place.picked
    form = ReportForm(
        posted,
        request.FILES or None,
        initial={"category": category.slug if category else ""},
        address_hits=place.address_hits,
        equipment_hits=place.equipment_hits,
        questions=category.extra_questions if category else (),
    )
    if refusal is not None:
        return _too_many(request, form, category, place, refusal)
    if action == "metoo":
        return _me_too(request, form, category, place)
    if action == "submit":
        try:
            report = _submit(request, form, category, place)
        except ratelimit.TooMany as exc:
            return _too_many(request, form, category, place, exc.refusal)
        if report is not None:
            messages.success(
                request,
                _(
                    "Votre signalement %(ref)s est bien reçu. "
                    "Un accusé de réception vous est envoyé."
                )
                % {"ref": report.reference},
            )
            detail = reverse("reports:detail", args=[report.reference])
            return redirect(f"{detail}?cle={report.access_key}")
    context = _context(form, category, place)
    # what the last lookups were made with, so that Enter looks up only what changed
    context["searched"] = (
        data.get("address_query", "") if action == "search" else data.get("searched", "")
    ).strip()
    context["found_ref"] = (
        data.get("equipment_ref", "") if action == "find" else data.get("found_ref", "")
    ).strip()
    return render(request, "reports/new.html", context)


def _too_many(request, form: ReportForm, category, place: Place, refusal) -> HttpResponse:
    """The same page, what was typed kept, the reason above the form."""
    form.is_valid()
    form.add_error(None, refusal.message)
    return ratelimit.refused(
        render(request, "reports/new.html", _context(form, category, place)), refusal
    )


def _context(form: ReportForm, category: Category | None, place: Place) -> dict:
    return {
        "form": form,
        "category": category,
        "place": place,
        "equipment_points": [h.as_dict() for h in place.equipment_hits],
        "map_config": map_config(),
        "routed": place.decision is not None and place.decision.status == "routed",
    }


def _submit(request, form: ReportForm, category: Category | None, place: Place):
    if not form.is_valid():
        return None
    data = form.cleaned_data
    if category is None:
        form.add_error("category", _("Choisissez le problème à signaler."))
    if not place.known:
        form.add_error(None, _("Indiquez où se trouve le problème (carte, adresse ou numéro)."))
    if not data["privacy"]:
        form.add_error("privacy", _("Lisez l'information sur vos données, puis cochez la case."))
    if form.errors:
        return None
    location = Point(place.lon, place.lat, srid=4326)
    equipment = next((h for h in place.equipment_hits if h.id == data.get("equipment")), None)
    if equipment is not None:  # the pin snaps to the equipment picked
        location = Point(equipment.lon, equipment.lat, srid=4326)
    try:
        photos = photos_check(data["photos"])
    except ValidationError as exc:  # PhotoTooLarge included
        form.add_error("photos", exc.messages)
        return None
    user = request.user if request.user.is_authenticated else None
    # Counted once stored; one too many is rolled back (TooMany, caught by the view).
    try:
        with transaction.atomic():
            report = services.report_create(
                category=category,
                location=location,
                description=data["description"],
                channel=Channel.WEB,
                author=user,
                contact_email=data["contact_email"],
                contact_phone=data["contact_phone"],
                equipment_id=equipment.id if equipment else None,
                address_label=place.label,
                answers=form.answers(),
                photos=photos,
            )
            ratelimit.count(request, "report")
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None
    return report


def _me_too(request, form: ReportForm, category, place) -> HttpResponse:
    report = selectors.report_by_reference(request.POST.get("metoo", ""))
    email = request.POST.get("contact_email", "")
    user = request.user if request.user.is_authenticated else None
    if report is None:
        return redirect(reverse("report-new"))
    try:
        with transaction.atomic():
            services.report_me_too(report, email=email, user=user)
            ratelimit.count(request, "report")  # a follower stored counts as a submission
    except ValidationError as exc:
        # the same page, what was typed kept, the reason on the address field
        form.is_valid()
        add_service_errors(form, exc)
        return render(request, "reports/new.html", _context(form, category, place), status=400)
    except ratelimit.TooMany as exc:
        return _too_many(request, form, category, place, exc.refusal)
    messages.success(
        request,
        _("C'est noté : vous serez informé de chaque étape du signalement %(ref)s.")
        % {"ref": report.reference},
    )
    return redirect(reverse("reports:detail", args=[report.reference]))
