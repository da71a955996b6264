"""The citizen's reporting journey (/signaler/): server-rendered, in steps that work without
JavaScript and by keyboard; the map only fills the same fields.

The place comes first (map click, address search, a photo's GPS position, or the number on
the equipment), then the problem; the page then shows who will handle it, the equipment around
and the open reports already there ("me too"), and the details to send. Every step is a button
posting the form back (``action``); with JavaScript (static/js/report-form.js) the same posts
are made by fetch with ``X-Journey: 1`` and the server answers the form alone, whose parts
marked ``data-live`` replace those on the page: the server stays the one judge of routing,
questions and errors, and the page keeps its scroll position, what was typed and the photos
chosen. Only sending checks the form, and then every step at once.
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

from addresses.selectors import address_backend, place_near
from core import ratelimit
from core.maps import map_config
from organisations.models import Service
from routing.models import Category
from routing.selectors import RoutingDecision, handling_message, route_for
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
    picked_label: str = ""
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
    if action == "photo":
        place.photo_position, place.notice = _photo_position((files or {}).get("place_photo"))
    # a lookup (address, photo) offers places; the one already chosen stays until one is used
    choice = data.get("address_choice", "")
    if action == "locate" and choice.count("|") >= 2:
        lon, lat, label = choice.split("|", 2)
        place.lon, place.lat, place.label = _float(lon, 180), _float(lat, 90), label[:255]
    if action == "find" and category is None:
        # an equipment's layers come with the problem (a mast: streetlight off, or on by day)
        place.notice = _("Choisissez d'abord le problème (étape 2), puis cherchez le numéro.")
    if action == "find" and category is not None:
        hits = selectors.equipment_by_ref(category, data.get("equipment_ref", ""))
        if hits:
            place.lon, place.lat, place.label = hits[0].lon, hits[0].lat, ""
            place.picked = hits[0].id
            place.picked_label = f"{hits[0].ref} – {hits[0].layer_name}"
        else:
            place.notice = _("Aucun équipement de ce type ne porte ce numéro.")
    if place.known and not place.label:
        # a point clicked, a photo's or an equipment's position: named from our address table
        near = place_near(place.lon, place.lat)
        place.label = near.text if near is not None else ""
    if place.known and category is not None:
        place.equipment_hits = selectors.equipment_near(category, lon=place.lon, lat=place.lat)
        # the equipment picked decides before the place (its owner handles it), as at submit;
        # a new place forgets the equipment picked at the old one, and only an equipment the
        # page offers counts (as at submit): not any feature id posted by hand, which would
        # route by, and name the owner of, equipment of any layer, private ones included
        stale = action in ("locate", "find")
        posted = None if stale else _int(data.get("equipment", ""))
        offered = posted in {hit.id for hit in place.equipment_hits}
        equipment = place.picked or (posted if offered else None)
        place.decision = route_for(
            location=Point(place.lon, place.lat, srid=4326),
            category=category,
            equipment_id=equipment,
        )
        if place.decision.service_id:
            place.service = Service.objects.select_related("organisation").get(
                pk=place.decision.service_id
            )
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
    posted = _posted(request, place, action) if request.method == "POST" else None
    submit = action == "submit"
    form = ReportForm(
        posted,
        request.FILES or None,
        initial={"category": category.slug if category else ""},
        address_hits=place.address_hits,
        equipment_hits=place.equipment_hits,
        questions=category.extra_questions if category else (),
        category=category,
        author=request.user if request.user.is_authenticated else None,
        check=submit,
    )
    if refusal is not None:
        return _too_many(request, form, category, place, refusal)
    if action == "metoo":
        return _me_too(request, form, category, place)
    errors = []
    if submit:
        try:
            report, errors = _submit(request, form, category, place)
        except ratelimit.TooMany as exc:
            return _too_many(request, form, category, place, exc.refusal)
        if report is not None:
            _say_received(request, report)
            detail = reverse("reports:detail", args=[report.reference])
            return _go(request, f"{detail}?cle={report.access_key}")
    context = _context(request, form, category, place, errors=errors)
    context.update(_what_changed(action, form, category, place, errors))
    if errors and not _is_fragment(request):
        # a page sent back loses the files chosen: say which ones to choose again
        context["photos_lost"] = [f.name for f in request.FILES.getlist("photos") if f.name]
    context.update(_looked_up(data, action))
    return _render(request, context)


def _looked_up(data, action: str) -> dict:
    """What the last lookups were made with, so that Enter looks up only what changed."""
    return {
        "searched": (
            data.get("address_query", "") if action == "search" else data.get("searched", "")
        ).strip(),
        "found_ref": (
            data.get("equipment_ref", "") if action == "find" else data.get("found_ref", "")
        ).strip(),
    }


def _posted(request: HttpRequest, place: Place, action: str):
    """What was posted, with the place found at this step (an address picked, a plate)."""
    posted = request.POST.copy()
    if place.known:
        for key, value in (("lon", place.lon), ("lat", place.lat), ("address_label", place.label)):
            posted[key] = value  # replaces (QueryDict.update would append)
    if action in ("locate", "find"):
        posted.pop("equipment", None)
    if place.picked:
        posted["equipment"] = place.picked
    return posted


def _is_fragment(request: HttpRequest) -> bool:
    """Asked by the page's script: the form alone, to swap its live parts in place."""
    return request.headers.get("X-Journey") == "1"


def _render(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    template = "reports/_journey_form.html" if _is_fragment(request) else "reports/new.html"
    response = render(request, template, context, status=status)
    response["Vary"] = "X-Journey"
    return response


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect; to the page's script, the address to open (fetch would follow a redirect
    itself, and the next page's message would be spent on that hidden request)."""
    if _is_fragment(request):
        return HttpResponse(status=204, headers={"X-Journey-Location": url})
    return redirect(url)


def _say_received(request: HttpRequest, report) -> None:
    """The acknowledgement is promised only to those who will receive it; the others are told
    that the tracking link is their only way back to the report."""
    email = report.author.email if report.author_id else report.contact_email
    if email:
        messages.success(
            request,
            _(
                "Votre signalement %(ref)s est bien reçu. "
                "Un accusé de réception est envoyé à %(email)s."
            )
            % {"ref": report.reference, "email": email},
        )
        return
    messages.success(
        request,
        _(
            "Votre signalement %(ref)s est bien reçu. Vous n'avez pas donné d'adresse "
            "électronique : gardez le lien de cette page (ajoutez-la à vos favoris ou copiez "
            "le lien), c'est le seul moyen de suivre votre signalement."
        )
        % {"ref": report.reference},
        extra_tags="keep-link",
    )


def _what_changed(action: str, form, category, place: Place, errors: list) -> dict:
    """What the page's live region announces after a step, and where focus goes (the element
    that was used may have been replaced): RGAA 7.5 and 12.8."""
    parts, focus = [], ""
    if errors:
        parts.append(
            _("Le signalement n'est pas parti : %(n)s point(s) à corriger.") % {"n": len(errors)}
        )
        focus = "form-errors"
    elif place.notice:
        parts.append(place.notice)
        focus = "place-notice"
    elif action == "search":
        parts.append(
            _("%(n)s adresse(s) trouvée(s) : choisissez la vôtre.") % {"n": len(place.address_hits)}
        )
        focus = "adresses"
    elif action == "photo" and place.photo_position:
        parts.append(_("Position de la photo trouvée : confirmez-la."))
        focus = "photo-position"
    if action in ("locate", "find", "category") and not errors:
        parts += _place_news(category, place)
        chosen_by_button = action == "find" or bool(form.data.get("address_choice"))
        if place.known and chosen_by_button:  # not a map tap: the map keeps the focus
            focus = focus or "place-chosen"
    return {"announce": " ".join(str(p) for p in parts), "focus": focus}


def _place_news(category, place: Place) -> list[str]:
    """The place chosen and who will handle it, as the live region says it."""
    parts = []
    if place.known:
        parts.append(_("Lieu choisi : %(place)s.") % {"place": place.label or _("point choisi")})
        if place.picked_label:
            parts.append(_("Équipement : %(label)s.") % {"label": place.picked_label})
    if category is None:
        parts.append(_("Choisissez maintenant le problème."))
    elif place.service is not None:
        parts.append(
            _("Pris en charge par : %(service)s – %(org)s.")
            % {"service": place.service.name, "org": place.service.organisation.name}
        )
    elif place.decision is not None:
        parts.append(place.decision.message)
    elif not place.known:
        parts.append(_("Indiquez maintenant où se trouve le problème."))
    return parts


def _too_many(request, form: ReportForm, category, place: Place, refusal) -> HttpResponse:
    """The same page, what was typed kept, the reason above the form."""
    form.is_valid()
    form.add_error(None, refusal.message)
    context = _context(request, form, category, place)
    context.update(announce=refusal.message, focus="form-errors")
    return ratelimit.refused(_render(request, context), refusal)


# Where each field's error links to, in the order of the page (the place first).
_ERROR_ANCHORS = {
    "place": "etape-lieu",
    "category": "id_category",
    "description": "id_description",
    "photos": "id_photos",
    "contact_email": "id_contact_email",
    "contact_phone": "id_contact_phone",
}


def _error_list(form: ReportForm, place_error: str = "") -> list[tuple[str, str]]:
    """Every error of the page for the summary at its top, each with the field it links to
    (DSFR / GOV.UK error summary), in the order of the page."""
    out = [("etape-lieu", place_error)] if place_error else []
    names = ["category", *(f"q_{q['name']}" for q in form.questions)]
    names += ["description", "photos", "contact_email", "contact_phone"]
    for name in names:
        anchor = _ERROR_ANCHORS.get(name, f"id_{name}")
        out.extend((anchor, error) for error in form.errors.get(name, ()))
    for name, errors in form.errors.items():  # anything else (the honeypot, a service's reason)
        if name not in names:
            out.extend(("report-form", error) for error in errors)
    return out


def _context(
    request, form: ReportForm, category: Category | None, place: Place, errors=None
) -> dict:
    return {
        "form": form,
        "category": category,
        "place": place,
        "errors": errors if errors is not None else _error_list(form),
        "equipment_points": [h.as_dict() for h in place.equipment_hits],
        "map_config": map_config(),
        "routed": place.decision is not None and place.decision.status == "routed",
        # the category's message, its on-call number that of the service found once placed
        "handling_message": (
            handling_message(category, place.service.pk if place.service else None)
            if category is not None and category.public_message
            else ""
        ),
        "fragment": _is_fragment(request),
    }


def _submit(request, form: ReportForm, category: Category | None, place: Place):
    """The report stored, or None and every error found (form, place, photos) at once."""
    form.is_valid()
    data = form.cleaned_data
    place_error = ""
    if not place.known:
        place_error = _("Indiquez où se trouve le problème (carte, adresse ou numéro).")
    elif place.decision is not None and place.decision.status != "routed":
        place_error = place.decision.message
    photos = []
    if "photos" not in form.errors and data.get("photos"):
        try:
            photos = photos_check(data["photos"])
        except ValidationError as exc:  # PhotoTooLarge included
            form.add_error("photos", exc.messages)
    if form.errors or place_error:
        return None, _error_list(form, place_error)
    location = Point(place.lon, place.lat, srid=4326)
    equipment = next((h for h in place.equipment_hits if h.id == data.get("equipment")), None)
    if equipment is not None:  # the pin snaps to the equipment picked
        location = Point(equipment.lon, equipment.lat, srid=4326)
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
        return None, _error_list(form)
    return report, []


def _me_too(request, form: ReportForm, category, place) -> HttpResponse:
    report = selectors.report_by_reference(request.POST.get("metoo", ""))
    email = request.POST.get("contact_email", "")
    user = request.user if request.user.is_authenticated else None
    if report is None:  # a reference posted by hand, or a report since gone
        form.is_valid()
        form.add_error(None, _("Ce signalement est introuvable : il n'a pas été suivi."))
        context = _context(request, form, category, place)
        context.update(announce=form.non_field_errors()[0], focus="form-errors")
        return _render(request, context, status=400)
    try:
        with transaction.atomic():
            services.report_me_too(report, email=email, user=user)
            ratelimit.count(request, "report")  # a follower stored counts as a submission
    except ValidationError as exc:
        # the same page, what was typed kept, the reason on the address field
        form.is_valid()
        add_service_errors(form, exc)
        context = _context(request, form, category, place)
        context.update(announce=" ".join(exc.messages), focus="form-errors")
        return _render(request, context, status=400)
    except ratelimit.TooMany as exc:
        return _too_many(request, form, category, place, exc.refusal)
    messages.success(
        request,
        _("C'est noté : vous serez informé de chaque étape du signalement %(ref)s.")
        % {"ref": report.reference},
    )
    return _go(request, reverse("reports:detail", args=[report.reference]))
