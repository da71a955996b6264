"""A report on the public space: a citizen request with a place, maybe an equipment, photos."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
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
    moderation_pending = models.BooleanField(
        _("à modérer"),
        default=False,
        help_text=_("Mis de côté à l'envoi (lien, mot signalé) : masqué du public jusqu'à revue."),
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


class Photo(models.Model):
    """A photo of a report, stored re-encoded under a name the server made (reports.photos)."""

    report = models.ForeignKey(
        Report, on_delete=models.CASCADE, related_name="photos", verbose_name=_("signalement")
    )
    file = models.CharField(_("fichier"), max_length=100, unique=True, editable=False)
    thumbnail = models.CharField(_("vignette"), max_length=100, blank=True, editable=False)
    width = models.PositiveIntegerField(_("largeur"))
    height = models.PositiveIntegerField(_("hauteur"))
    digest = models.CharField(_("empreinte de l'envoi"), max_length=64, editable=False)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)
    is_hidden = models.BooleanField(_("masquée (modération)"), default=False)
    created_at = models.DateTimeField(_("ajoutée le"), default=timezone.now)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["report", "position", "pk"]

    def __str__(self) -> str:
        return self.file

    @property
    def name(self) -> str:
        """The public name in URLs: the server-made file name."""
        return self.file.rsplit("/", 1)[-1]
