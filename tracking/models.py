"""A citizen request, whatever its kind (report now, procedure later), and its one timeline.

Reports (``reports.Report``) and procedures extend ``CitizenRequest`` by multi-table
inheritance: the fields every figure and every permission needs (channel, status, service,
organisation, commune, place, timestamps) live in this one table, so statistics, queues and
``accounts.permissions`` work on both kinds without knowing them.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    REPORT = "report", _("signalement")
    PROCEDURE = "procedure", _("démarche")


class Channel(models.TextChoices):
    WEB = "web", _("site web")
    API = "api", _("API")
    COUNTER = "counter", _("accueil")
    PHONE = "phone", _("téléphone")


class Status(models.TextChoices):
    RECEIVED = "received", _("Reçu")
    PLANNED = "planned", _("Intervention programmée")
    IN_PROGRESS = "in_progress", _("En cours de traitement")
    RESOLVED = "resolved", _("Résolu")
    CLOSED = "closed", _("Clos sans suite")
    TRANSFERRED_OUT = "transferred_out", _("Transmis à un autre organisme")
    DUPLICATE = "duplicate", _("Doublon d'un autre signalement")


OPEN_STATUSES = frozenset({Status.RECEIVED, Status.PLANNED, Status.IN_PROGRESS})
# Closing statuses that must say why, publicly.
REASONED_STATUSES = frozenset({Status.CLOSED, Status.TRANSFERRED_OUT})


def new_access_key() -> str:
    return secrets.token_urlsafe(18)


class CitizenRequest(models.Model):
    kind = models.CharField(_("nature"), max_length=10, choices=Kind.choices, editable=False)
    reference = models.CharField(_("numéro de suivi"), max_length=20, unique=True, editable=False)
    # The secret in the tracking link given to someone who has no account.
    access_key = models.CharField(max_length=32, default=new_access_key, editable=False)
    channel = models.CharField(_("canal"), max_length=10, choices=Channel.choices)
    status = models.CharField(
        _("état"), max_length=20, choices=Status.choices, default=Status.RECEIVED
    )
    status_reason = models.TextField(_("motif (public)"), blank=True)

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("auteur"),
    )
    contact_name = models.CharField(_("nom"), max_length=150, blank=True)
    contact_email = models.EmailField(_("courriel"), blank=True)
    contact_phone = models.CharField(_("téléphone"), max_length=30, blank=True)

    category = models.ForeignKey(
        "routing.Category",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("catégorie"),
    )
    location = models.PointField(
        _("emplacement"), srid=settings.GRC_STORAGE_SRID, null=True, blank=True
    )
    # Where the public sees the request (reports.positions): ``location`` snapped to the public
    # grid, NULL for a category about a home. Written by the database only (the triggers of
    # migration tracking.0005), so that every public query reads one plain, indexed column.
    public_location = models.PointField(
        _("emplacement public"),
        srid=settings.GRC_STORAGE_SRID,
        null=True,
        blank=True,
        editable=False,
    )
    commune = models.ForeignKey(
        "territory.Commune",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("commune"),
    )
    organisation = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("organisme"),
    )
    service = models.ForeignKey(
        "organisations.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("service"),
    )
    routing_rule = models.ForeignKey(
        "routing.RoutingRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("règle d'aiguillage appliquée"),
    )

    created_at = models.DateTimeField(_("déposé le"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)
    due_at = models.DateTimeField(_("échéance"), null=True, blank=True)
    closed_at = models.DateTimeField(_("clos le"), null=True, blank=True)

    class Meta:
        verbose_name = _("demande")
        verbose_name_plural = _("demandes")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["service", "status"], name="request_queue_idx"),
            models.Index(fields=["organisation", "created_at"], name="request_org_created_idx"),
            models.Index(fields=["created_at"], name="request_created_idx"),
            # The open requests by age and overdue (dashboards) read this small index only: an
            # index-only scan for a scope, a service or a problem (the heap pages of 24,000
            # open requests among a million cost 88 ms; bench/stats_sweep.py).
            models.Index(
                fields=["created_at"],
                name="request_open_created_idx",
                condition=models.Q(status__in=["received", "planned", "in_progress"]),
                include=["due_at", "organisation", "service", "category"],
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Event(models.Model):
    """One line of a request's timeline. Public lines are what the citizen sees."""

    class Type(models.TextChoices):
        CREATED = "created", _("dépôt")
        ROUTED = "routed", _("aiguillage")
        REROUTED = "rerouted", _("réaiguillage")
        TRANSFERRED = "transferred", _("transfert")
        STATUS = "status", _("changement d'état")
        REPLY = "reply", _("réponse")
        NOTE = "note", _("note interne")
        EDITED = "edited", _("modification")
        MODERATED = "moderated", _("modération")
        MERGED = "merged", _("fusion de doublons")
        # Written by the citizen who made the request (tracking.services, "conversation").
        CITIZEN_REPLY = "citizen_reply", _("message du demandeur")
        CITIZEN_PHOTO = "citizen_photo", _("photo ajoutée par le demandeur")
        REOPENED = "reopened", _("réouverture par le demandeur")
        CONTACT_ADDED = "contact_added", _("adresse de contact ajoutée")

    request = models.ForeignKey(
        CitizenRequest, on_delete=models.CASCADE, related_name="events", verbose_name=_("demande")
    )
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    at = models.DateTimeField(_("le"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("par"),
    )
    # Who acted, as shown (kept if the account goes): "Service voirie (Libercourt)", "Portail".
    actor_label = models.CharField(_("par (affiché)"), max_length=200, blank=True)
    # Three audiences: public (anybody reading the page), the requester only (their tracking
    # link or account, and the agents: what the citizen wrote may hold personal data), and
    # internal (agents only: neither flag).
    is_public = models.BooleanField(_("visible du public"), default=False)
    for_requester = models.BooleanField(
        _("visible du demandeur seulement"),
        default=False,
        help_text=_("Montré au demandeur (lien de suivi, compte) et aux agents, jamais au public."),
    )
    status_before = models.CharField(max_length=20, blank=True, choices=Status.choices)
    status_after = models.CharField(max_length=20, blank=True, choices=Status.choices)
    service_before = models.ForeignKey(
        "organisations.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service avant"),
    )
    service_after = models.ForeignKey(
        "organisations.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service après"),
    )
    message = models.TextField(_("message"), blank=True)  # public text when is_public
    note = models.TextField(_("note interne"), blank=True)  # never shown to the public
    data = models.JSONField(_("détails"), default=dict, blank=True)  # e.g. the routing trace

    @property
    def text(self) -> str:
        """The public line in the reader's language. The lines the portal writes itself
        (routing, transfer, merge) are said again from the event's data; what a person typed
        (a reply, a status reason) and older events without that data are shown as stored."""
        data = self.data or {}
        decision = data.get("decision") or {}
        if self.type in (self.Type.ROUTED, self.Type.REROUTED) and decision.get("service_name"):
            values = {
                "service": decision["service_name"],
                "organisation": decision.get("organisation_name", ""),
            }
            if values["organisation"]:
                return gettext("Pris en charge par : %(service)s (%(organisation)s).") % values
            return gettext("Pris en charge par : %(service)s.") % values
        if self.type == self.Type.TRANSFERRED and data.get("service"):
            return gettext("Transmis à : %(service)s.") % {"service": data["service"]}
        if self.type == self.Type.MERGED and self.is_public and data.get("into"):
            return gettext(
                "Même problème que le signalement %(reference)s, qui est suivi à votre place."
            ) % {"reference": data["into"]}
        return self.message

    def headline(self, audience: str = "public") -> str:
        """The line's title in plain words for a citizen (``audience``: "public", anybody; or
        "requester", who made the request, addressed as "vous"). Agents keep the precise
        wording (type and actor) in the admin: see tracking/timeline.html."""
        data = self.data or {}
        mine = audience == "requester"
        service = (data.get("decision") or {}).get("service_name") or data.get("service") or ""
        organisation = (data.get("decision") or {}).get("organisation_name") or ""
        where = (
            gettext("%(service)s (%(organisation)s)")
            % {"service": service, "organisation": organisation}
            if organisation
            else service
        )
        if self.type == self.Type.CREATED:
            return gettext("Votre signalement est bien reçu") if mine else gettext("Demande reçue")
        if self.type in (self.Type.ROUTED, self.Type.TRANSFERRED) and where:
            return gettext("Transmis au service %(where)s") % {"where": where}
        if self.type == self.Type.REROUTED and where:
            return gettext("Confié à un autre service : %(where)s") % {"where": where}
        if self.type == self.Type.STATUS:
            return self._status_headline(mine)
        if self.type == self.Type.REPLY:
            if self.actor_label:
                return gettext("Message de %(who)s") % {"who": self.actor_label}
            return gettext("Message du service")
        if self.type == self.Type.CITIZEN_REPLY:
            return gettext("Votre message") if mine else gettext("Message du demandeur")
        if self.type == self.Type.CITIZEN_PHOTO:
            return (
                gettext("Vous avez ajouté une photo")
                if mine
                else gettext("Photo ajoutée par le demandeur")
            )
        if self.type == self.Type.REOPENED:
            return gettext("Problème toujours présent : la demande est rouverte")
        if self.type == self.Type.MERGED:
            return gettext("Regroupé avec un signalement du même problème")
        return self.get_type_display().capitalize()

    def _status_headline(self, mine: bool) -> str:
        after = self.status_after
        if after == Status.IN_PROGRESS:
            if self.status_before in (Status.RECEIVED, Status.PLANNED, ""):
                return (
                    gettext("Votre signalement est pris en charge")
                    if mine
                    else gettext("Demande prise en charge")
                )
            if self.status_before in OPEN_STATUSES:
                return gettext("Intervention en cours")
            return gettext("La demande est rouverte")
        words = {
            Status.PLANNED: gettext("Une intervention est programmée"),
            Status.RESOLVED: gettext("Problème résolu"),
            Status.CLOSED: gettext("Demande close sans suite"),
            Status.TRANSFERRED_OUT: gettext("Transmis à un autre organisme"),
            Status.DUPLICATE: gettext("Regroupé avec un signalement du même problème"),
            Status.RECEIVED: gettext("Demande reçue"),
        }
        return words.get(after, self.get_status_after_display())

    @property
    def text_repeats_headline(self) -> bool:
        """Routing and transfer lines say everything in their headline (the service)."""
        data = self.data or {}
        return self.type in (self.Type.ROUTED, self.Type.REROUTED, self.Type.TRANSFERRED) and bool(
            (data.get("decision") or {}).get("service_name") or data.get("service")
        )

    class Meta:
        verbose_name = _("événement")
        verbose_name_plural = _("historique")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["request", "at"], name="event_request_at_idx")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.at:%d/%m/%Y %H:%M}"


class Follower(models.Model):
    """Someone told of every public step: the author (or the address given), and for reports
    the citizens who said "me too"."""

    request = models.ForeignKey(
        CitizenRequest,
        on_delete=models.CASCADE,
        related_name="followers",
        verbose_name=_("demande"),
    )
    email = models.EmailField(_("courriel"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="followed_requests",
        verbose_name=_("compte"),
    )
    is_me_too = models.BooleanField(_("« moi aussi »"), default=False)
    # A resident who follows a public report without having the problem ("Suivre"): told like
    # the "me too" followers, never counted as one.
    follows_only = models.BooleanField(_("suit seulement"), default=False)
    created_at = models.DateTimeField(_("depuis le"), default=timezone.now)

    class Meta:
        verbose_name = _("abonné")
        verbose_name_plural = _("abonnés")
        constraints = [
            models.UniqueConstraint(fields=["request", "email"], name="follower_unique_email")
        ]

    def __str__(self) -> str:
        return self.email


class BannedEmail(models.Model):
    """An address (or a whole domain, "@example.org") that may no longer file requests."""

    pattern = models.CharField(
        _("adresse ou domaine"),
        max_length=254,
        unique=True,
        help_text=_("Une adresse (nom@example.org) ou un domaine entier (@example.org)."),
    )
    reason = models.CharField(_("motif"), max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("par"),
    )
    created_at = models.DateTimeField(_("le"), default=timezone.now)

    class Meta:
        verbose_name = _("adresse bloquée")
        verbose_name_plural = _("adresses bloquées")
        ordering = ["pattern"]

    def __str__(self) -> str:
        return self.pattern

    def clean(self) -> None:
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_email

        self.pattern = self.pattern.strip().lower()
        if "*" in self.pattern:
            raise ValidationError(
                {"pattern": _("Pas de joker : « @domaine.fr » bannit tout le domaine.")}
            )
        # an address, or "@" and a domain: what email_is_banned compares; anything else would
        # be accepted and never match
        try:
            validate_email(f"x{self.pattern}" if self.pattern.startswith("@") else self.pattern)
        except ValidationError:
            raise ValidationError(
                {"pattern": _("Une adresse (nom@domaine.fr) ou « @ » suivi d'un domaine.")}
            ) from None
