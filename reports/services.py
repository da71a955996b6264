"""Writes on reports: create (store, route, acknowledge), change category or place (re-route).

Status, replies, transfers are the shared request services of ``tracking.services``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts import permissions
from addresses.services import normalise
from core import failopen
from core.maps import reproject
from core.timing import timed
from notifications.services import mail_enqueue
from organisations.models import Service
from organisations.selectors import town_hall_phone
from routing.models import Category
from routing.questions import answers_clean
from routing.selectors import RoutingDecision, handling_message, route_for
from tracking import services as tracking
from tracking.models import Channel, Event, Kind, Status

from .models import DESCRIPTION_MAX, Photo, Report
from .photos import CheckedPhoto, new_photo_path, thumbnail, write_file

# A picked equipment must be where the pin is: further than this, the pin or the pick is wrong.
EQUIPMENT_MAX_DISTANCE_M = 50.0


def _stored(location: Point) -> Point:
    """The point in the storage SRID (a point without SRID is taken as WGS84 lon/lat)."""
    if location.srid is None:
        location = Point(location.x, location.y, srid=4326)
    if location.srid != settings.GRC_STORAGE_SRID:
        location = reproject(location, settings.GRC_STORAGE_SRID)
    return location


def _validate_text(description: str) -> str:
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": _("Décrivez le problème en quelques mots.")})
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            {
                "description": _("La description dépasse %(max)s caractères (%(n)s).")
                % {
                    "max": number_format(DESCRIPTION_MAX, force_grouping=True),
                    "n": number_format(len(description), force_grouping=True),
                }
            }
        )
    return description


def _decide(*, category: Category, location: Point, equipment_id: int | None) -> RoutingDecision:
    """Route, and refuse with the routing's own message what no service on the portal handles."""
    with timed("route"):
        decision = route_for(location=location, category=category, equipment_id=equipment_id)
    if equipment_id is not None:
        equipment = decision.equipment
        if equipment is None:
            raise ValidationError({"equipment": _("Équipement inconnu.")})
        allowed = {layer.slug for layer in category.layers.all()}
        if equipment["layer"] not in allowed:
            raise ValidationError(
                {
                    "equipment": _("Un(e) %(layer)s ne relève pas de cette catégorie.")
                    % {"layer": equipment["layer_name"]}
                }
            )
        if (
            equipment["distance_m"] is not None
            and equipment["distance_m"] > EQUIPMENT_MAX_DISTANCE_M
        ):
            raise ValidationError(
                {
                    "equipment": _(
                        "L'équipement %(ref)s est à %(m)s m du point indiqué : vérifiez "
                        "l'emplacement."
                    )
                    % {"ref": equipment["ref"], "m": f"{equipment['distance_m']:.0f}"}
                }
            )
    if decision.status != "routed":
        raise ValidationError({"location": decision.message})
    return decision


_LINK = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)


def needs_moderation(text: str) -> bool:
    """Held for review before it is public: links (spam), or a word on the moderation list."""
    words = set(normalise(text).split())  # lower case, accents removed
    return bool(_LINK.search(text)) or bool(words & settings.GRC_MODERATION_WORDS)


def _equipment_label(decision: RoutingDecision) -> str:
    equipment = decision.equipment
    return f"{equipment['ref']} ({equipment['layer_name']})" if equipment else ""


@transaction.atomic
def report_create(
    *,
    category: Category,
    location: Point,
    description: str,
    channel: str = Channel.WEB,
    author: Any = None,
    contact_email: str = "",
    contact_phone: str = "",
    contact_name: str = "",
    equipment_id: int | None = None,
    address_label: str = "",
    answers: dict | None = None,
    photos: Sequence[CheckedPhoto] = (),
) -> Report:
    """Store a report with its photos, route it, and queue its acknowledgement of receipt.

    Refused (ValidationError, nothing stored) when the text is empty or too long, the category
    is closed, the place is outside the CAHC or handled by a body not on the portal, the
    equipment does not fit, the category wants an identity or a photo and none is given, the
    answers do not fit the category's extra questions (routing.questions), or there are too
    many photos. Photos come checked and re-encoded (reports.photos.photo_check,
    done by the caller before the transaction: decoding is slow).
    """
    if len(photos) > settings.GRC_PHOTO_MAX_COUNT:
        raise ValidationError(
            {"photos": _("Au plus %(n)s photos.") % {"n": settings.GRC_PHOTO_MAX_COUNT}}
        )
    if category.photo_required and not photos:
        raise ValidationError({"photos": _("Pour cette catégorie, joignez au moins une photo.")})
    if not category.is_active:
        raise ValidationError({"category": _("Cette catégorie n'est plus proposée.")})
    description = _validate_text(description)
    answers = answers_clean(category.extra_questions, answers)
    email = author.email if author is not None else (contact_email or "").strip().lower()
    if not email and not category.allow_anonymous:
        raise ValidationError(
            {"contact_email": _("Pour cette catégorie, indiquez une adresse électronique.")}
        )
    decision = _decide(category=category, location=location, equipment_id=equipment_id)
    if email and tracking.email_is_banned(email):
        raise _banned((decision.commune or {}).get("id"))
    held = needs_moderation(description)
    now = timezone.now()
    report = Report(
        kind=Kind.REPORT,
        reference=tracking.new_reference(Kind.REPORT),
        channel=channel,
        author=author,
        contact_name=(contact_name or "").strip()[:150],
        contact_email="" if author is not None else email,
        contact_phone=(contact_phone or "").strip()[:30],
        category=category,
        location=_stored(location),
        description=description,
        equipment_id=equipment_id,
        equipment_label=_equipment_label(decision),
        address_label=(address_label or "").strip()[:255],
        answers=answers,
        is_hidden=held,
        moderation_pending=held,
        created_at=now,
        due_at=now + dt.timedelta(days=category.sla_days),
    )
    tracking.routing_assign(report, decision)
    # The foreign keys were just resolved (objects given, routing's own ids): no need to look
    # them up again.
    report.full_clean(
        exclude=[
            "location",
            "reference",
            "access_key",
            "category",
            "author",
            "equipment",
            "service",
            "organisation",
            "commune",
            "routing_rule",
        ]
    )
    report.save()
    Event.objects.create(
        request=report,
        type=Event.Type.CREATED,
        at=now,
        actor=author,
        is_public=True,
        status_after=report.status,
        message=handling_message(category, report.service_id),
    )
    tracking.routing_record(report, decision)
    _photos_store(report, photos)
    if email:
        tracking.follower_add(report, email=email, user=author)
        service = Service.objects.select_related("organisation").get(pk=report.service_id)
        mail_enqueue(
            to=[email],
            template="report_acknowledgement",
            context={
                "report": report,
                "service": service,
                "url": tracking.tracking_url(report),
                "unsubscribe_url": tracking.unsubscribe_url(report, email),
                "handling_message": handling_message(category, service.pk),
            },
            topic="acknowledgement",
            reference=report.reference,
            dedupe_key=f"ack:{report.pk}",
        )
    return report


@dataclass(frozen=True)
class ReportChange:
    """What correcting a report's category or place would do, before anything is written."""

    category: Category
    location: Point
    equipment_id: int | None
    changes: dict[str, list]
    decision: RoutingDecision


def report_change_plan(
    report: Report,
    *,
    category: Category | None = None,
    location: Point | None = None,
    equipment_id: int | None = None,
) -> ReportChange:
    """Check a correction and route it, writing nothing; ValidationError with the reason if it
    cannot be made (nothing changed, outside the CAHC, an equipment that does not fit). Forms
    call it to show the error on the field; report_change applies it."""
    changes: dict[str, list] = {}
    new_category = category or report.category
    location = _stored(location) if location is not None else None
    new_location = location or report.location
    if category is not None and category.pk != report.category_id:
        changes["catégorie"] = [str(report.category), str(category)]
    if location is not None and not location.equals_exact(report.location, tolerance=0.01):
        changes["emplacement"] = [report.location.ewkt, location.ewkt]
    if equipment_id is None and location is None and report.equipment_id is not None:
        # A category correction keeps the equipment picked if it belongs to the new category's
        # layers (a streetlight stays a streetlight); otherwise the report is no longer on it.
        fits = new_category.layers.filter(features__pk=report.equipment_id).exists()
        equipment_id = report.equipment_id if fits else None
    if equipment_id != report.equipment_id:
        changes["équipement"] = [report.equipment_label, equipment_id]
    if not changes:
        raise ValidationError(_("Rien n'a changé."))
    decision = _decide(category=new_category, location=new_location, equipment_id=equipment_id)
    return ReportChange(new_category, new_location, equipment_id, changes, decision)


def _photos_store(report: Report, photos: Sequence[CheckedPhoto], *, first: int = 0) -> list[Photo]:
    """Write the photo files under server-made names and record them from position ``first``
    on; thumbnails are asked for once committed. Files of a transaction that does not commit
    are removed by photos_sweep_orphans()."""
    stored = []
    for position, photo in enumerate(photos, first):
        relative = new_photo_path()
        write_file(relative, photo.data)
        stored.append(
            Photo.objects.create(
                report=report,
                file=relative,
                width=photo.width,
                height=photo.height,
                digest=photo.digest,
                position=position,
            )
        )
    if photos:
        report_id = report.pk
        transaction.on_commit(lambda: thumbnails_request(report_id))
    return stored


def thumbnails_request(report_id: int) -> None:
    """Ask a worker for the thumbnails; if the broker is down the hourly sweep makes them."""
    from .tasks import photo_thumbnails_task

    failopen.publish(photo_thumbnails_task, report_id)


def photo_thumbnails_make(report_id: int | None = None) -> int:
    """Make the missing thumbnails (of one report, or of all). Idempotent."""
    missing = Photo.objects.filter(thumbnail="")
    if report_id is not None:
        missing = missing.filter(report_id=report_id)
    made = 0
    for photo in missing:
        source = settings.GRC_PHOTO_ROOT / photo.file
        if not source.exists():
            continue
        relative = photo.file.replace(".jpg", ".thumb.jpg")
        write_file(relative, thumbnail(source.read_bytes()))
        Photo.objects.filter(pk=photo.pk).update(thumbnail=relative)
        made += 1
    return made


def photos_sweep_orphans(*, older_than: dt.timedelta = dt.timedelta(hours=1)) -> int:
    """Delete photo files that no row names (a submission whose transaction did not commit)."""
    root = settings.GRC_PHOTO_ROOT
    if not root.exists():
        return 0
    known = set(Photo.objects.values_list("file", flat=True))
    known |= set(Photo.objects.exclude(thumbnail="").values_list("thumbnail", flat=True))
    limit = (timezone.now() - older_than).timestamp()
    removed = 0
    for path in root.glob("*/*.jpg"):
        relative = path.relative_to(root).as_posix()
        if relative not in known and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@transaction.atomic
def report_change(
    report: Report,
    *,
    actor: Any,
    category: Category | None = None,
    location: Point | None = None,
    equipment_id: int | None = None,
    note: str = "",
) -> Event:
    """An agent corrects the category or the place: the report is routed again. Moving the pin
    drops the equipment unless a new one is given; a new category keeps it if it fits.

    If another service now handles it, it moves there (a "rerouted" event with the new trace,
    the new service told); otherwise the correction and the new trace are recorded.
    """
    report = Report.objects.select_for_update().get(pk=report.pk)
    if not permissions.can_act_on_request(actor, report):
        raise PermissionDenied(_("Vous ne traitez pas ce signalement."))
    plan = report_change_plan(
        report, category=category, location=location, equipment_id=equipment_id
    )
    decision = plan.decision
    report.category = plan.category
    report.location = plan.location
    report.equipment_id = plan.equipment_id
    report.equipment_label = _equipment_label(decision)
    report.due_at = report.created_at + dt.timedelta(days=plan.category.sla_days)
    before = report.service
    moved = decision.service_id != report.service_id
    tracking.routing_assign(report, decision)
    report.save(
        update_fields=[
            "category",
            "location",
            "equipment",
            "equipment_label",
            "due_at",
            "service",
            "organisation",
            "routing_rule",
            "commune",
            "updated_at",
        ]
    )
    event = tracking.routing_record(
        report,
        decision,
        event_type=Event.Type.REROUTED if moved else Event.Type.EDITED,
        service_before=before,
        actor=actor,
        note=note,
        details={"changes": plan.changes},
    )
    if moved:
        tracking.tell_receiving_service(
            report,
            event,
            from_service=before,
            reason=note or "Nouvel aiguillage après correction de la catégorie ou du lieu.",
            topic="reroute:service",
        )
    return event


BANNED_MESSAGE = gettext_noop(
    "Cette adresse ne peut plus déposer de demande en ligne : contactez l'accueil de la mairie."
)
BANNED_MESSAGE_WITH_PHONE = gettext_noop(
    "Cette adresse ne peut plus déposer de demande en ligne : contactez l'accueil de la mairie "
    "au %(phone)s."
)


def _banned(commune_id: int | None) -> ValidationError:
    """The refusal of a banned address, giving the number of the town hall where the problem is."""
    phone = town_hall_phone(commune_id) if commune_id else ""
    if phone:
        return ValidationError({"contact_email": _(BANNED_MESSAGE_WITH_PHONE) % {"phone": phone}})
    return ValidationError({"contact_email": _(BANNED_MESSAGE)})


@transaction.atomic
def report_me_too(report: Report, *, email: str = "", user: Any = None) -> bool:
    """A citizen has the same problem: they follow the report instead of filing it again, and
    are told of every step. Returns False if that address already followed it. Not for a
    category about a home: each home's problem is its own (and a stranger following it would
    be told of someone's home)."""
    if report.category is not None and not report.category.place_is_public:
        raise ValidationError(
            _("Ce problème concerne un domicile : déposez votre propre signalement.")
        )
    address = (user.email if user is not None else email or "").strip().lower()
    if not address:
        raise ValidationError(
            {"contact_email": _("Indiquez votre adresse pour être tenu informé.")}
        )
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError(
            {"contact_email": _("Cette adresse électronique n'est pas valide.")}
        ) from None
    if tracking.email_is_banned(address):
        raise _banned(report.commune_id)
    if not report.is_open or report.is_hidden:
        raise ValidationError(_("Ce signalement n'est plus ouvert : déposez-en un nouveau."))
    before = report.followers.filter(email=address).exists()
    tracking.follower_add(report, email=address, user=user, is_me_too=True)
    return not before


def _check_handler(actor: Any, report: Report) -> None:
    if not permissions.can_act_on_request(actor, report):
        raise PermissionDenied(_("Vous ne traitez pas ce signalement."))


@transaction.atomic
def report_moderate(
    report: Report, *, actor: Any, hidden: bool, reason: str, photos_hidden: Sequence[int] = ()
) -> Event:
    """Show or hide a report on the public side, and hide some of its photos; the reason and
    what changed go into an internal line of the timeline (the audit trail)."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    _check_handler(actor, report)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indiquez le motif de la modération.")})
    before = {
        "hidden": report.is_hidden,
        "photos_hidden": sorted(report.photos.filter(is_hidden=True).values_list("pk", flat=True)),
    }
    report.is_hidden = hidden
    report.moderation_pending = False
    report.save(update_fields=["is_hidden", "moderation_pending", "updated_at"])
    report.photos.update(is_hidden=False)
    report.photos.filter(pk__in=list(photos_hidden)).update(is_hidden=True)
    after = {
        "hidden": hidden,
        "photos_hidden": sorted(report.photos.filter(is_hidden=True).values_list("pk", flat=True)),
    }
    return Event.objects.create(
        request=report,
        type=Event.Type.MODERATED,
        actor=actor,
        actor_label=tracking.actor_label(actor, report),
        note=reason,
        data={"before": before, "after": after},
    )


@transaction.atomic
def report_edit_description(report: Report, *, actor: Any, description: str, reason: str) -> Event:
    """Correct the public text (a name, a phone number written in it…); the previous text is
    kept in an internal line of the timeline with the reason."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    _check_handler(actor, report)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Indiquez le motif de la modification.")})
    text = _validate_text(description)
    before = report.description
    report.description = text
    report.save(update_fields=["description", "updated_at"])
    return Event.objects.create(
        request=report,
        type=Event.Type.EDITED,
        actor=actor,
        actor_label=tracking.actor_label(actor, report),
        note=reason.strip(),
        data={"description_before": before, "description_after": text},
    )


@transaction.atomic
def report_merge(duplicate: Report, *, into: Report, actor: Any) -> Event:
    """Close a report as a duplicate of another: its followers follow the other one and every
    one of them is told, by mail, where to follow it now."""
    duplicate = Report.objects.select_for_update().get(pk=duplicate.pk)
    into = Report.objects.select_for_update().get(pk=into.pk)
    _check_handler(actor, duplicate)
    if into.pk == duplicate.pk:
        raise ValidationError({"into": _("Un signalement ne peut pas être son propre doublon.")})
    if not permissions.can_act_on_request(actor, into):
        # The kept report gains followers and a line of its timeline: its handlers decide.
        raise ValidationError(
            {
                "into": _(
                    "Vous ne traitez pas le signalement %(ref)s : transférez plutôt celui-ci "
                    "au service qui traite %(ref)s."
                )
                % {"ref": into.reference}
            }
        )
    if not into.is_open:
        raise ValidationError(
            {
                "into": _("%(ref)s est clos : rouvrez-le ou choisissez-en un autre.")
                % {"ref": into.reference}
            }
        )
    if not duplicate.is_open:
        raise ValidationError(_("Ce signalement est déjà clos."))
    label = tracking.actor_label(actor, duplicate)
    before = duplicate.status
    duplicate.status = Status.DUPLICATE
    duplicate.status_reason = f"Même problème que le signalement {into.reference}."
    duplicate.duplicate_of = into
    duplicate.closed_at = timezone.now()
    duplicate.save(
        update_fields=["status", "status_reason", "duplicate_of", "closed_at", "updated_at"]
    )
    followers = list(duplicate.followers.values_list("email", "user_id"))
    tracking.followers_add(into, followers, is_me_too=True)
    event = Event.objects.create(
        request=duplicate,
        type=Event.Type.MERGED,
        actor=actor,
        actor_label=label,
        is_public=True,
        status_before=before,
        status_after=Status.DUPLICATE,
        message=f"Même problème que le signalement {into.reference}, qui est suivi à votre place.",
        data={"into": into.reference},
    )
    Event.objects.create(
        request=into,
        type=Event.Type.MERGED,
        actor=actor,
        actor_label=label,
        note=f"{duplicate.reference} fusionné ici ({len(followers)} abonné(s) repris).",
        data={"from": duplicate.reference},
    )
    mail_enqueue(
        to=[email for email, _ in followers],
        template="report_merged",
        # the page of the report they now follow, without its key: it is not theirs
        context={"duplicate": duplicate, "into": into, "url": tracking.public_url(into)},
        topic="merged",
        reference=duplicate.reference,
        dedupe_key=f"event:{event.pk}",
    )
    return event


@transaction.atomic
def report_add_photos(
    report: Report,
    *,
    user: Any,
    has_key: bool,
    photos: Sequence[CheckedPhoto],
    submission: str = "",
) -> Event:
    """The requester adds photos to their report after sending it (checked and re-encoded by
    reports.photos, as at creation), at most GRC_PHOTO_MAX_PER_REPORT on a report in all.
    They are shown like the first ones (public unless the category is about a home; agents
    may hide one by moderation); a public line says a photo was added, and the service is
    mailed."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    tracking.requester_check(user, report, has_key=has_key)
    earlier = tracking.submitted_before(report, submission, event_type=Event.Type.CITIZEN_PHOTO)
    if earlier is not None:
        return earlier
    if not photos:
        raise ValidationError({"photos": _("Choisissez une photo.")})
    if len(photos) > settings.GRC_PHOTO_MAX_COUNT:
        raise ValidationError(
            {"photos": _("Au plus %(n)s photos à la fois.") % {"n": settings.GRC_PHOTO_MAX_COUNT}}
        )
    most = settings.GRC_PHOTO_MAX_PER_REPORT
    present = report.photos.count()
    if present + len(photos) > most:
        raise ValidationError(
            {
                "photos": _("Ce signalement a déjà %(present)s photos : au plus %(most)s en tout.")
                % {"present": present, "most": most}
            }
        )
    last = report.photos.order_by("-position").values_list("position", flat=True).first()
    stored = _photos_store(report, photos, first=0 if last is None else last + 1)
    event = Event.objects.create(
        request=report,
        type=Event.Type.CITIZEN_PHOTO,
        actor=user if getattr(user, "is_authenticated", False) else None,
        is_public=True,
        data={
            **({"submission": submission[:64]} if submission else {}),
            "photos": [photo.pk for photo in stored],
        },
    )
    tracking.tell_service_of_update(report, event, photos=len(stored))
    return event
