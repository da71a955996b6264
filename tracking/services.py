"""Writes on citizen requests, shared by reports and procedures: routing, transfer, status, reply.

Every change writes its timeline event and queues its mails in the same transaction (the outbox),
and every change made by a person is checked by ``accounts.permissions`` here, so the admin, the
intranet and the APIs cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from core.links import site_url
from notifications.services import mail_enqueue
from organisations.models import Organisation, Service
from routing.selectors import RoutingDecision

from .models import (
    OPEN_STATUSES,
    REASONED_STATUSES,
    BannedEmail,
    CitizenRequest,
    Event,
    Follower,
    Kind,
    Status,
)

REFERENCE_PREFIX = {Kind.REPORT: "S", Kind.PROCEDURE: "D"}

# Which status an agent may set from which ("duplicate" has its own service, the merge: it
# carries the report kept).
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.RECEIVED: frozenset(
        {Status.PLANNED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED, Status.TRANSFERRED_OUT}
    ),
    Status.PLANNED: frozenset(
        {Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED, Status.TRANSFERRED_OUT}
    ),
    Status.IN_PROGRESS: frozenset(
        {Status.PLANNED, Status.RESOLVED, Status.CLOSED, Status.TRANSFERRED_OUT}
    ),
    # A closed request may be reopened (the fix did not hold, the closure was a mistake).
    Status.RESOLVED: frozenset({Status.IN_PROGRESS}),
    Status.CLOSED: frozenset({Status.IN_PROGRESS}),
    Status.TRANSFERRED_OUT: frozenset({Status.IN_PROGRESS}),
    Status.DUPLICATE: frozenset({Status.IN_PROGRESS}),
}


def new_reference(kind: str) -> str:
    """A short, unique, human-readable tracking number: S2026-000042 (S report, D procedure)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('tracking_reference_seq')")
        number = cursor.fetchone()[0]
    return f"{REFERENCE_PREFIX[kind]}{timezone.localdate().year}-{number:06d}"


def actor_label(user: Any, request: CitizenRequest | None = None) -> str:
    """How an agent's action is signed publicly: their service, not their name."""
    if user is None:
        return "Portail"
    actor = permissions.actor_for(user)
    if request is not None and request.service_id in actor.services:
        return str(request.service)
    if actor.services:
        return str(Service.objects.filter(pk__in=actor.services).order_by("pk").first())
    if actor.admin_organisations:
        return str(
            Organisation.objects.filter(pk__in=actor.admin_organisations).order_by("pk").first()
        )
    return "Administration du portail"


def service_recipients(service: Service) -> list[str]:
    """Who hears of a request arriving in a service: its contact address and its agents."""
    members = service.memberships.filter(user__is_active=True).values_list("user__email", flat=True)
    return [service.email, *members]


def tell_followers(
    request: CitizenRequest,
    *,
    template: str,
    context: dict[str, Any],
    topic: str,
    dedupe_key: str | None = None,
) -> int:
    """Mail a public step to whoever follows the request, each mail with its own link to stop
    following. Its author (or the address they gave) gets the tracking link with the key that
    shows their own details; the others ("me too", followers of a merged duplicate, residents
    who follow it) get the public page only: the key would show them the author's email and
    phone. Returns how many addresses are told."""
    owners, others = [], []
    for email, is_me_too in request.followers.values_list("email", "is_me_too"):
        (others if is_me_too else owners).append(email)
    for to, url in ((owners, tracking_url(request)), (others, public_url(request))):
        if to:
            mail_enqueue(
                to=to,
                template=template,
                context={**context, "url": url},
                topic=topic,
                reference=request.reference,
                dedupe_key=dedupe_key,
                per_recipient={
                    email: {"unsubscribe_url": unsubscribe_url(request, email)} for email in to
                },
            )
    return len(owners) + len(others)


UNSUBSCRIBE_SALT = "tracking.unsubscribe"


def unsubscribe_token(request: CitizenRequest, email: str) -> str:
    """The signed (request, address) pair of a mail's "stop following" link: it needs no
    account and cannot be made for another request or address. Signed, not encrypted: the
    address can be decoded from the URL, which is only in the mail sent to that address (the
    confirmation pages send no Referer to other sites)."""
    return signing.dumps([request.pk, email.strip().lower()], salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(request: CitizenRequest, email: str) -> str:
    return site_url(
        reverse("reports:unsubscribe", args=[request.reference, unsubscribe_token(request, email)])
    )


def unsubscribe_reader(token: str) -> tuple[int, str] | None:
    """(request id, address) of an unsubscribe link, None if it was not made by the portal."""
    try:
        request_id, email = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return int(request_id), str(email)


def followers_add(
    request: CitizenRequest, followers: Iterable[tuple[str, int | None]], *, is_me_too: bool
) -> None:
    """Add people told of every public step, as (email, user id): one INSERT, an address
    already following is left as it is."""
    rows = [
        Follower(request=request, email=email.strip().lower(), user_id=user_id, is_me_too=is_me_too)
        for email, user_id in followers
        if email and email.strip()
    ]
    Follower.objects.bulk_create(rows, ignore_conflicts=True)


def follower_add(
    request: CitizenRequest, *, email: str, user: Any = None, is_me_too: bool = False
) -> None:
    """Add one person (see ``followers_add``)."""
    followers_add(request, [(email or "", user.pk if user else None)], is_me_too=is_me_too)


def tell_receiving_service(
    request: CitizenRequest,
    event: Event,
    *,
    from_service: Service | None,
    reason: str,
    topic: str,
) -> None:
    """Mail the service a request has just been given (transfer or re-routing), and its agents."""
    to_service = Service.objects.select_related("organisation").get(pk=request.service_id)
    _mail_service(
        request,
        event,
        to_service,
        template="request_transferred_service",
        context={
            "from_service": from_service,
            "to_service": to_service,
            "reason": reason,
            "by": event.actor_label,
        },
        topic=topic,
    )


def _mail_service(
    request: CitizenRequest,
    event: Event,
    service: Service,
    *,
    template: str,
    context: dict[str, Any],
    topic: str,
) -> None:
    """Queue one mail about ``event`` to a service's address and agents, with the link to the
    request in the agents' workspace (once per event and address)."""
    mail_enqueue(
        to=service_recipients(service),
        template=template,
        context={"request": request, "url": staff_url(request), **context},
        topic=topic,
        reference=request.reference,
        dedupe_key=f"event:{event.pk}",
    )


def public_url(request: CitizenRequest) -> str:
    """The request's public page, as anybody sees it."""
    return site_url(reverse("reports:detail", args=[request.reference]))


def tracking_url(request: CitizenRequest) -> str:
    """The citizen's tracking link: the public page, with the key that shows their own details.
    Only for the author (``tell_followers``)."""
    return f"{public_url(request)}?cle={request.access_key}"


def _check(user: Any, request: CitizenRequest) -> None:
    if user is not None and not permissions.can_act_on_request(user, request):
        raise PermissionDenied(_("Vous ne traitez pas cette demande."))


def routing_assign(request: CitizenRequest, decision: RoutingDecision) -> None:
    """Copy who handles the request from a routing decision (not saved)."""
    if decision.status != "routed":
        raise ValidationError(decision.message)
    request.service_id = decision.service_id
    request.organisation_id = decision.organisation_id
    request.routing_rule_id = decision.rule_id
    request.commune_id = (decision.commune or {}).get("id")


def routing_record(
    request: CitizenRequest,
    decision: RoutingDecision,
    *,
    event_type: str = Event.Type.ROUTED,
    service_before: Service | None = None,
    actor: Any = None,
    note: str = "",
    details: dict | None = None,
) -> Event:
    """Record a routing decision with its trace in the timeline (shown to agents)."""
    return Event.objects.create(
        request=request,
        type=event_type,
        actor=actor,
        actor_label=actor_label(actor, request),
        is_public=event_type != Event.Type.EDITED,
        service_before=service_before,
        service_after_id=decision.service_id,
        message=(
            f"Pris en charge par : {decision.service_name} ({decision.organisation_name})."
            if decision.organisation_name
            else f"Pris en charge par : {decision.service_name}."
        ),
        note=note,
        data={"decision": decision.as_dict(), **(details or {})},
    )


@transaction.atomic
def request_transfer(
    request: CitizenRequest, *, to_service: Service, reason: str, actor: Any
) -> Event:
    """Hand a request to another service, of the same organisation or another one (a commune to
    the CAHC and back). The reason is kept in the history; the receiving service and the citizen
    are told."""
    request = CitizenRequest.objects.select_for_update().get(pk=request.pk)
    _check(actor, request)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indiquez le motif du transfert.")})
    if not to_service.is_active:
        raise ValidationError({"to_service": _("Ce service n'est plus actif.")})
    if not to_service.organisation.on_board:
        raise ValidationError(
            {"to_service": _("Cet organisme ne traite pas encore ses demandes sur le portail.")}
        )
    if to_service.pk == request.service_id:
        raise ValidationError({"to_service": _("La demande est déjà dans ce service.")})
    if not request.is_open:
        raise ValidationError(
            _("Une demande close ne peut pas être transférée : rouvrez-la d'abord.")
        )
    before = request.service
    label = actor_label(actor, request)
    request.service = to_service
    request.organisation_id = to_service.organisation_id
    request.routing_rule = None
    request.save(update_fields=["service", "organisation", "routing_rule", "updated_at"])
    event = Event.objects.create(
        request=request,
        type=Event.Type.TRANSFERRED,
        actor=actor,
        actor_label=label,
        is_public=True,
        service_before=before,
        service_after=to_service,
        message=f"Transmis à : {to_service}.",  # the service names its organisation
        note=reason,
        data={"service": str(to_service)},  # as named then, for Event.text
    )
    tell_receiving_service(
        request, event, from_service=before, reason=reason, topic="transfer:service"
    )
    tell_followers(
        request,
        template="request_transferred_citizen",
        context={"request": request, "to_service": to_service},
        topic="transfer:citizen",
        dedupe_key=f"event:{event.pk}",
    )
    return event


STAFF_URL_NAMES = {Kind.REPORT: "admin:reports_report_change"}


def staff_url(request: CitizenRequest) -> str:
    """Where an agent opens the request (the admin until the agents' workspace exists)."""
    return site_url(reverse(STAFF_URL_NAMES[request.kind], args=[request.pk]))


@transaction.atomic
def request_set_status(
    request: CitizenRequest, *, status: str, actor: Any, message: str = "", note: str = ""
) -> Event:
    """Move a request to a new status; closing without action or sending it to another body
    needs a public reason. The citizen and the followers are told."""
    request = CitizenRequest.objects.select_for_update().get(pk=request.pk)
    _check(actor, request)
    message = (message or "").strip()
    if status not in TRANSITIONS.get(request.status, frozenset()):
        raise ValidationError(
            {
                "status": _("Passage impossible de « %(before)s » à « %(after)s ».")
                % {"before": Status(request.status).label, "after": Status(status).label}
            }
        )
    if status in REASONED_STATUSES and not message:
        raise ValidationError({"message": _("Expliquez au demandeur pourquoi (message public).")})
    before = request.status
    request.status = status
    request.status_reason = message if status in REASONED_STATUSES else ""
    request.closed_at = None if status in OPEN_STATUSES else timezone.now()
    request.save(update_fields=["status", "status_reason", "closed_at", "updated_at"])
    event = Event.objects.create(
        request=request,
        type=Event.Type.STATUS,
        actor=actor,
        actor_label=actor_label(actor, request),
        is_public=True,
        status_before=before,
        status_after=status,
        message=message,
        note=note,
    )
    tell_followers(
        request,
        template="request_status",
        context={"request": request, "event": event, "status": Status(status).label},
        topic="status",
        dedupe_key=f"event:{event.pk}",
    )
    return event


def nobody_to_tell(request: CitizenRequest) -> str:
    """Why an answer would reach nobody by mail ("" if someone follows the request): what the
    agent is told before publishing it on the tracking page only."""
    if request.followers.exists():
        return ""
    reason = _(
        "Personne ne recevra cette réponse par courriel : le demandeur n'a pas laissé d'adresse "
        "(ou s'est désabonné) et personne ne suit ce signalement."
    )
    if request.contact_phone:
        reason += " " + _("Il a laissé un numéro de téléphone : %(phone)s.") % {
            "phone": request.contact_phone
        }
    return reason


@transaction.atomic
def request_reply(
    request: CitizenRequest, *, actor: Any, message: str, publish_unmailed: bool = False
) -> Event:
    """A public answer to the citizen, shown on the request's page and mailed to whoever
    follows it (``event.data["mailed_to"]``: how many). When nobody follows it (no address
    left, or unsubscribed) the answer is refused, nothing stored, unless the agent chose to
    publish it on the tracking page only (``publish_unmailed``), where the requester finds it
    with their tracking link."""
    # Locked and read again, as transfers and statuses are: the right to answer is judged on
    # the request's current service, not on a copy loaded before a transfer.
    request = CitizenRequest.objects.select_for_update().get(pk=request.pk)
    _check(actor, request)
    message = (message or "").strip()
    if not message:
        raise ValidationError({"message": _("La réponse est vide.")})
    if len(message) > 5000:
        raise ValidationError({"message": _("La réponse dépasse 5 000 caractères.")})
    unreachable = nobody_to_tell(request)
    if unreachable and not publish_unmailed:
        raise ValidationError(
            {
                "publish_unmailed": unreachable
                + " "
                + _(
                    "Rien n'a été envoyé ni publié. Pour afficher la réponse sur la page de "
                    "suivi seulement, cochez la case ci-dessous."
                )
            }
        )
    event = Event.objects.create(
        request=request,
        type=Event.Type.REPLY,
        actor=actor,
        actor_label=actor_label(actor, request),
        is_public=True,
        message=message,
    )
    told = tell_followers(
        request,
        template="request_reply",
        context={"request": request, "event": event},
        topic="reply",
        dedupe_key=f"event:{event.pk}",
    )
    event.data = {"mailed_to": told}
    event.save(update_fields=["data"])
    return event


# --- The citizen's side: updates on their own request, following -------------------------------


def requester_check(user: Any, request: CitizenRequest, *, has_key: bool) -> None:
    if not permissions.can_update_as_requester(user, request, has_key=has_key):
        raise PermissionDenied(_("Seul le demandeur peut compléter sa demande."))


def submitted_before(request: CitizenRequest, submission: str, *, event_type: str) -> Event | None:
    """The event a form already stored (a double submit, a retry after a lost answer): each
    form carries a one-off ``submission`` key, looked up under the request's row lock among
    this request's events of ``event_type`` only, so that a key sent again with another form
    (or on another request) never passes a new update off as done."""
    if not submission:
        return None
    return request.events.filter(type=event_type, data__submission=submission[:64]).first()


def tell_service_of_update(
    request: CitizenRequest, event: Event, *, photos: int = 0, text: str = ""
) -> None:
    """Mail the handling service (its address and agents) what the citizen added: stored with
    the update, sent once committed, kept in the outbox through a broker outage."""
    if request.service_id is None:
        return
    service = Service.objects.select_related("organisation").get(pk=request.service_id)
    _mail_service(
        request,
        event,
        service,
        template="request_citizen_update_service",
        context={"event": event, "photos": photos, "text": text or event.message},
        topic=f"citizen:{event.type}",
    )


def _citizen(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


CITIZEN_TEXT_MAX = 5000


def _citizen_text(message: str, *, required: bool) -> str:
    message = (message or "").strip()
    if required and not message:
        raise ValidationError({"message": _("Écrivez votre message.")})
    if len(message) > CITIZEN_TEXT_MAX:
        raise ValidationError({"message": _("Le message dépasse 5 000 caractères.")})
    return message


@transaction.atomic
def request_citizen_reply(
    request: CitizenRequest, *, user: Any, has_key: bool, message: str, submission: str = ""
) -> Event:
    """The requester writes to the service (an answer to its question, a detail). Seen by
    them and the agents, never by the public: what a citizen writes may name them or give a
    phone number. The service is mailed."""
    request = CitizenRequest.objects.select_for_update().get(pk=request.pk)
    requester_check(user, request, has_key=has_key)
    earlier = submitted_before(request, submission, event_type=Event.Type.CITIZEN_REPLY)
    if earlier is not None:
        return earlier
    message = _citizen_text(message, required=True)
    event = Event.objects.create(
        request=request,
        type=Event.Type.CITIZEN_REPLY,
        actor=_citizen(user),
        for_requester=True,
        message=message,
        data={"submission": submission[:64]} if submission else {},
    )
    tell_service_of_update(request, event)
    return event


def reopen_refusal(request: CitizenRequest) -> str:
    """Why the requester may not reopen the request ("" if they may): only a resolved one,
    within GRC_REOPEN_DAYS of its resolution."""
    if request.status != Status.RESOLVED:
        return _("Seule une demande résolue peut être signalée comme toujours présente.")
    days = settings.GRC_REOPEN_DAYS
    if request.closed_at is None or timezone.now() - request.closed_at > dt.timedelta(days=days):
        return _(
            "Cette demande est résolue depuis plus de %(days)s jours : si le problème est "
            "revenu, faites un nouveau signalement."
        ) % {"days": days}
    return ""


@transaction.atomic
def request_reopen(
    request: CitizenRequest, *, user: Any, has_key: bool, message: str = "", submission: str = ""
) -> Event:
    """The requester says "still a problem" and reopens their resolved request (see reopen_refusal).
    It goes back to "in progress" in the same service; a public line says so, their comment
    is a line for them and the agents only. The service and the followers are told."""
    request = CitizenRequest.objects.select_for_update().get(pk=request.pk)
    requester_check(user, request, has_key=has_key)
    earlier = submitted_before(request, submission, event_type=Event.Type.REOPENED)
    if earlier is not None:
        return earlier
    message = _citizen_text(message, required=False)
    refusal = reopen_refusal(request)
    if refusal:
        raise ValidationError(refusal)
    before = request.status
    request.status = Status.IN_PROGRESS
    request.status_reason = ""
    request.closed_at = None
    request.save(update_fields=["status", "status_reason", "closed_at", "updated_at"])
    event = Event.objects.create(
        request=request,
        type=Event.Type.REOPENED,
        actor=_citizen(user),
        is_public=True,
        status_before=before,
        status_after=request.status,
        data={"submission": submission[:64]} if submission else {},
    )
    if message:
        Event.objects.create(
            request=request,
            type=Event.Type.CITIZEN_REPLY,
            actor=_citizen(user),
            for_requester=True,
            message=message,
        )
    tell_service_of_update(request, event, text=message)
    tell_followers(
        request,
        template="request_status",
        context={"request": request, "event": event, "status": Status(request.status).label},
        topic="status",
        dedupe_key=f"event:{event.pk}",
    )
    return event


def _address(email: str) -> str:
    email = (email or "").strip().lower()
    if not email:
        raise ValidationError({"email": _("Indiquez une adresse électronique.")})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            {"email": _("Cette adresse électronique n'est pas valide.")}
        ) from None
    if email_is_banned(email):
        raise ValidationError(
            {
                "email": _(
                    "Cette adresse ne peut plus recevoir de nouvelles du portail : contactez "
                    "l'accueil de la mairie."
                )
            }
        )
    return email


@transaction.atomic
def request_follow(request: CitizenRequest, *, user: Any, is_public: bool) -> bool:
    """A signed-in resident follows a request: each public step is mailed to their account's
    address, with a link to stop. Its author follows as its owner (their tracking link).
    Returns False if they already followed it."""
    if not permissions.can_follow_request(user, request, is_public=is_public):
        raise PermissionDenied(_("Connectez-vous pour suivre ce signalement."))
    email = _address(user.email)
    if request.followers.filter(email=email).exists():
        return False
    stranger = request.author_id != user.pk
    Follower.objects.bulk_create(
        [
            Follower(
                request=request,
                email=email,
                user=user,
                is_me_too=stranger,
                follows_only=stranger,
            )
        ],
        ignore_conflicts=True,
    )
    return True


@transaction.atomic
def request_unfollow(request: CitizenRequest, *, email: str) -> bool:
    """Stop mailing an address about a request (the button of a signed-in follower, or the
    link in each mail). Returns False if it did not follow it."""
    deleted, _rows = Follower.objects.filter(
        request=request, email=(email or "").strip().lower()
    ).delete()
    return bool(deleted)


def follows(request: CitizenRequest, user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return request.followers.filter(email=(user.email or "").lower()).exists()


CONTACT_SALT = "tracking.contact"
CONTACT_LINK_DAYS = 7


def may_add_contact(request: CitizenRequest) -> bool:
    """An anonymous request with no address to tell: its requester may give one."""
    return request.author_id is None and not request.followers.filter(is_me_too=False).exists()


def request_contact_offer(request: CitizenRequest, *, user: Any, has_key: bool, email: str) -> None:
    """An anonymous requester (their tracking link) gives an address to be told at. Nothing
    is stored until they open the link mailed to it (request_contact_confirm): an address
    typed by someone else is never used, and the page never shows it back."""
    requester_check(user, request, has_key=has_key)
    if not may_add_contact(request):
        raise ValidationError(_("Une adresse est déjà enregistrée pour cette demande."))
    email = _address(email)
    token = signing.dumps([request.pk, email], salt=CONTACT_SALT, compress=True)
    with transaction.atomic():
        mail_enqueue(
            to=[email],
            template="request_contact_confirm",
            context={
                "request": request,
                "days": CONTACT_LINK_DAYS,
                "url": site_url(reverse("reports:contact", args=[request.reference, token])),
            },
            topic="contact:confirm",
            reference=request.reference,
        )


def contact_reader(token: str) -> tuple[int, str] | None:
    try:
        request_id, email = signing.loads(
            token, salt=CONTACT_SALT, max_age=dt.timedelta(days=CONTACT_LINK_DAYS)
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return int(request_id), str(email)


@transaction.atomic
def request_contact_confirm(request: CitizenRequest, *, email: str) -> bool:
    """The address was confirmed by its link: it follows the request as its requester's (the
    tracking link in each mail) and the agents see it. Returns False if it already did."""
    request = CitizenRequest.objects.select_for_update().get(pk=request.pk)
    email = _address(email)
    if request.followers.filter(email=email).exists():
        return False
    # Several addresses offered (a typo, or whoever else holds the tracking link): the first
    # confirmed is the requester's, the other links no longer give the tracking key away.
    if not may_add_contact(request):
        raise ValidationError(_("Une adresse est déjà enregistrée pour cette demande."))
    follower_add(request, email=email)
    if not request.contact_email and request.author_id is None:
        request.contact_email = email
        request.save(update_fields=["contact_email", "updated_at"])
    Event.objects.create(
        request=request,
        type=Event.Type.CONTACT_ADDED,
        note=_("Le demandeur a donné et confirmé une adresse électronique : %(email)s.")
        % {"email": email},
    )
    return True


@transaction.atomic
def request_add_note(request: CitizenRequest, *, actor: Any, note: str) -> Event:
    """An internal note, for agents only."""
    request = CitizenRequest.objects.select_for_update().get(pk=request.pk)
    _check(actor, request)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("La note est vide.")})
    return Event.objects.create(
        request=request,
        type=Event.Type.NOTE,
        actor=actor,
        actor_label=actor_label(actor, request),
        note=note,
    )


@transaction.atomic
def requests_claim(user: Any) -> int:
    """Attach to a verified account the requests made without it under the same address; the
    account's owner then finds them in "my requests". Returns how many."""
    if user is None or user.email_verified_at is None:
        return 0
    email = user.email.lower()
    claimed = CitizenRequest.objects.filter(author__isnull=True, contact_email__iexact=email)
    count = claimed.update(author=user, contact_email="")
    Follower.objects.filter(email=email, user__isnull=True).update(user=user)
    return count


def email_is_banned(email: str) -> bool:
    """Whether an address, or its domain, is on the list of banned addresses."""
    email = (email or "").strip().lower()
    if "@" not in email:
        return False
    return BannedEmail.objects.filter(pattern__in=[email, "@" + email.split("@", 1)[1]]).exists()


def public_grid_stored() -> float | None:
    """The grid (metres) the stored public points were computed on (reports.positions): the
    row of tracking_public_grid, None before migration tracking.0005."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('tracking_public_grid') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT grid FROM tracking_public_grid")
        row = cursor.fetchone()
    return row[0] if row else None


@transaction.atomic
def public_positions_rebuild(*, grid: float) -> int:
    """Make ``grid`` the public grid and recompute every request's public point on it (when
    GRC_PUBLIC_PRECISION_M changed, or after a bulk load with the triggers off); returns the
    requests with a point. Writes to the requests wait until it commits (reads go on), so
    none is stored on the old grid in between."""
    if not grid > 0:
        raise ValueError(f"The public grid must be positive, not {grid!r}.")
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE tracking_citizenrequest IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            "INSERT INTO tracking_public_grid (grid) VALUES (%s) "
            "ON CONFLICT (only_row) DO UPDATE SET grid = EXCLUDED.grid",
            [float(grid)],
        )
        # The row trigger recomputes whatever is written here (tracking.0005).
        cursor.execute(
            "UPDATE tracking_citizenrequest "
            "SET public_location = tracking_public_location(location, category_id) "
            "WHERE location IS NOT NULL OR public_location IS NOT NULL"
        )
        return cursor.rowcount
