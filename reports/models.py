"""A report on the public space: a citizen request with a place, maybe an equipment, photos."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tracking.models import CitizenRequest

DESCRIPTION_MAX = 4000


class Report(CitizenRequest):
    description = models.TextField(_("description"), max_length=DESCRIPTION_MAX)
    equipment = models.ForeignKey(
        "gis_layers.Feature",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("équipement"),
    )
    # What the citizen saw, kept if the layer is re-imported: "LIB-EP-0042 (Éclairage public)".
    equipment_label = models.CharField(_("équipement (libellé)"), max_length=200, blank=True)
    address_label = models.CharField(_("adresse"), max_length=255, blank=True)
    answers = models.JSONField(_("réponses aux questions"), default=dict, blank=True)
    is_hidden = models.BooleanField(
        _("masqué du public"),
        default=False,
        help_text=_("Modération : le signalement n'apparaît plus sur la carte publique."),
    )
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("doublon de"),
    )

    class Meta:
        verbose_name = _("signalement")
        verbose_name_plural = _("signalements")
        ordering = ["-created_at"]
