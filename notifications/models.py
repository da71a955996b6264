"""The outbox: every mail is a row written in the same transaction as what it announces.

A broker or mail server outage therefore never loses a notification nor blocks the request that
caused it: the row waits, and the sender retries it until it is sent (or gives up, visibly).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxMail(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("à envoyer")
        SENT = "sent", _("envoyé")
        FAILED = "failed", _("abandonné")

    to = models.EmailField(_("destinataire"))
    subject = models.CharField(_("objet du courriel"), max_length=255)
    body = models.TextField(_("texte"))
    # What the mail is about, for the audit and to avoid sending the same mail twice.
    topic = models.CharField(_("sujet"), max_length=100)
    # The tracking number of the request concerned, if any (this app sits below the requests).
    reference = models.CharField(_("demande"), max_length=30, blank=True, db_index=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    state = models.CharField(_("état"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    next_attempt_at = models.DateTimeField(_("prochaine tentative"), default=timezone.now)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("courriel à envoyer")
        verbose_name_plural = _("courriels (file d'envoi)")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_pending_idx",
                condition=models.Q(state="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"
