"""Postal addresses of the territory, searched locally (no network needed)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.utils.translation import gettext_lazy as _


class Address(models.Model):
    """One address point, in the national address base's (BAN) terms."""

    ban_id = models.CharField(_("identifiant BAN"), max_length=60, unique=True)
    number = models.PositiveIntegerField(_("numéro"), null=True, blank=True)
    suffix = models.CharField(_("indice de répétition"), max_length=10, blank=True)
    street = models.CharField(_("voie"), max_length=200)
    postcode = models.CharField(_("code postal"), max_length=5)
    insee = models.CharField(_("code INSEE"), max_length=5, db_index=True)
    city = models.CharField(_("commune"), max_length=100)
    location = models.PointField(_("position"), srid=settings.GRC_STORAGE_SRID)
    label = models.CharField(_("libellé"), max_length=300)
    # The label lower-cased and without accents: what the trigram index searches.
    search_text = models.CharField(max_length=300)
    is_synthetic = models.BooleanField(_("synthétique (démo)"), default=False)

    class Meta:
        verbose_name = _("adresse")
        verbose_name_plural = _("adresses")
        indexes = [
            GinIndex(OpClass("search_text", name="gin_trgm_ops"), name="address_search_trgm"),
        ]

    def __str__(self) -> str:
        return self.label
