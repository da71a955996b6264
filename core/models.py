"""Cross-cutting records of the portal."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotentRequest(models.Model):
    """A write made with an ``Idempotency-Key``: a retry with the same key gets the first answer.

    Written in the same transaction as the write itself, so it exists exactly when the write
    does; keys are scoped by caller (a user, a token, or anonymous).
    """

    scope = models.CharField(max_length=40)  # "user:12", "token:3", "anonymous"
    key = models.CharField(max_length=128)
    endpoint = models.CharField(max_length=100)
    body_digest = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("requête idempotente")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
