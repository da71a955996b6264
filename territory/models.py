"""The territory: communes and the EPCI (agglomeration) with their official codes and boundaries."""

from django.conf import settings
from django.contrib.gis.db import models
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

insee_validator = RegexValidator(r"^(\d{5}|2[AB]\d{3})$", _("Un code INSEE a 5 caractères."))
siren_validator = RegexValidator(r"^\d{9}$", _("Un numéro SIREN a 9 chiffres."))


class Epci(models.Model):
    """An intercommunal body (établissement public de coopération intercommunale)."""

    siren = models.CharField(_("SIREN"), max_length=9, unique=True, validators=[siren_validator])
    name = models.CharField(_("nom"), max_length=200)
    short_name = models.CharField(_("sigle"), max_length=20, blank=True)
    kind = models.CharField(_("nature juridique"), max_length=10, default="CA")
    population = models.PositiveIntegerField(_("population municipale"), null=True, blank=True)
    geom = models.MultiPolygonField(_("contour"), srid=settings.GRC_STORAGE_SRID)
    source = models.CharField(_("source"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("EPCI")
        verbose_name_plural = _("EPCI")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.short_name or self.name


class Commune(models.Model):
    """A commune, member of the CAHC or a neighbour kept to name places outside the territory."""

    insee = models.CharField(
        _("code INSEE"), max_length=5, unique=True, validators=[insee_validator]
    )
    name = models.CharField(_("nom"), max_length=200)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True, validators=[siren_validator])
    postal_codes = models.CharField(
        _("codes postaux"), max_length=100, blank=True, help_text=_("Séparés par des virgules.")
    )
    department = models.CharField(_("département"), max_length=3)
    population = models.PositiveIntegerField(_("population municipale"), null=True, blank=True)
    epci = models.ForeignKey(
        Epci,
        verbose_name=_("EPCI"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="communes",
        help_text=_("Vide pour une commune voisine, hors du territoire."),
    )
    epci_name = models.CharField(
        _("intercommunalité d'appartenance"),
        max_length=200,
        blank=True,
        help_text=_("Nom de l'EPCI, y compris pour une commune voisine hors territoire."),
    )
    geom = models.MultiPolygonField(_("contour"), srid=settings.GRC_STORAGE_SRID)
    source = models.CharField(_("source"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("commune")
        verbose_name_plural = _("communes")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.insee})"

    @property
    def is_member(self) -> bool:
        return self.epci_id is not None


class CommunePart(models.Model):
    """A piece of a commune's boundary (ST_Subdivide, at most 128 vertices), kept by a trigger.

    Point-in-commune tests run on these pieces: their bounding boxes are tight, so the GiST index
    leaves one or two small polygons to test instead of a full-resolution boundary.
    """

    commune = models.ForeignKey(Commune, on_delete=models.CASCADE, related_name="parts")
    geom = models.PolygonField(srid=settings.GRC_STORAGE_SRID)

    class Meta:
        verbose_name = _("morceau de commune")
        verbose_name_plural = _("morceaux de communes")
