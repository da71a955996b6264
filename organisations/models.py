"""Organisations (a commune or the agglomeration), their services, domains and competences.

All of it is data that staff edit: which body is competent for which domain on which commune,
which service of that body handles the domain, and which service receives what nobody else does.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from territory.models import Commune, Epci

from .hours import describe_opening_hours, is_open_at, validate_opening_hours


class Organisation(models.Model):
    """A public body that handles requests: a commune (its town hall) or the agglomeration."""

    class Kind(models.TextChoices):
        COMMUNE = "commune", _("Commune")
        EPCI = "epci", _("Intercommunalité")

    kind = models.CharField(_("nature"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("nom"), max_length=200)
    slug = models.SlugField(_("identifiant"), max_length=80, unique=True)
    commune = models.OneToOneField(
        Commune,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organisation",
    )
    epci = models.OneToOneField(
        Epci,
        verbose_name=_("EPCI"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organisation",
    )
    on_board = models.BooleanField(
        _("utilise le portail"),
        default=False,
        help_text=_(
            "Une commune qui n'utilise pas le portail ne reçoit pas de demandes en ligne "
            "pour ses compétences : l'usager est invité à la contacter directement."
        ),
    )
    address = models.TextField(_("adresse postale"), blank=True)
    location = models.PointField(
        _("position de l'accueil"), srid=settings.GRC_STORAGE_SRID, null=True, blank=True
    )
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    email = models.EmailField(_("courriel"), blank=True)
    website = models.URLField(_("site web"), blank=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                name="organisation_kind_matches_territory",
                condition=(
                    Q(kind="commune", commune__isnull=False, epci__isnull=True)
                    | Q(kind="epci", epci__isnull=False, commune__isnull=True)
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Domain(models.Model):
    """A field of public action (roads, public lighting, waste collection, civil status...)."""

    class Level(models.TextChoices):
        COMMUNE = "commune", _("Commune")
        EPCI = "epci", _("Intercommunalité")

    slug = models.SlugField(_("identifiant"), max_length=60, unique=True)
    name = models.CharField(_("nom"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    default_level = models.CharField(
        _("niveau compétent par défaut"),
        max_length=10,
        choices=Level.choices,
        help_text=_("Sert à créer les compétences d'une commune qui rejoint le territoire."),
    )
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("domaine de compétence")
        verbose_name_plural = _("domaines de compétence")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Competence(models.Model):
    """Which organisation is competent for a domain on a commune's territory (one per pair)."""

    domain = models.ForeignKey(
        Domain, verbose_name=_("domaine"), on_delete=models.CASCADE, related_name="competences"
    )
    commune = models.ForeignKey(
        Commune,
        verbose_name=_("territoire (commune)"),
        on_delete=models.CASCADE,
        related_name="competences",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation compétente"),
        on_delete=models.CASCADE,
        related_name="competences",
    )
    legal_basis = models.CharField(
        _("fondement"),
        max_length=300,
        blank=True,
        help_text=_("Par exemple : statuts de la CAHC, article 5 (compétences obligatoires)."),
    )

    class Meta:
        verbose_name = _("compétence")
        verbose_name_plural = _("compétences")
        ordering = ["commune__name", "domain__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "commune"], name="one_competent_body_per_domain"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.domain} – {self.commune.name} : {self.organisation}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not (self.commune_id and self.organisation_id):
            return
        org, commune = self.organisation, self.commune
        if org.kind == Organisation.Kind.COMMUNE and org.commune_id != commune.pk:
            raise ValidationError(
                {"organisation": _("Une commune n'est compétente que sur son propre territoire.")}
            )
        if org.kind == Organisation.Kind.EPCI and org.epci_id != commune.epci_id:
            raise ValidationError(
                {
                    "organisation": _("Cette intercommunalité ne comprend pas %(commune)s.")
                    % {"commune": commune.name}
                }
            )


class Service(models.Model):
    """A department of an organisation, with the contact details quoted to citizens."""

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="services",
    )
    name = models.CharField(_("nom"), max_length=200)
    slug = models.SlugField(_("identifiant"), max_length=80)
    description = models.TextField(_("missions"), blank=True)
    domains = models.ManyToManyField(
        Domain, verbose_name=_("domaines traités"), blank=True, related_name="services"
    )
    is_reception = models.BooleanField(
        _("accueil général"),
        default=False,
        help_text=_("Reçoit ce qu'aucun autre service de l'organisation ne traite."),
    )
    email = models.EmailField(_("courriel de contact"))
    phone = models.CharField(_("téléphone"), max_length=30)
    on_call_phone = models.CharField(
        _("numéro d'astreinte"),
        max_length=30,
        blank=True,
        help_text=_(
            "Numéro à appeler en urgence en dehors des horaires d'ouverture. Un message de "
            "prise en charge qui contient {astreinte} le cite."
        ),
    )
    address = models.TextField(_("adresse postale"))
    opening_hours = models.JSONField(
        _("horaires d'ouverture"),
        default=list,
        blank=True,
        validators=[validate_opening_hours],
        help_text=_(
            'Liste de créneaux {"day": 0-6, "opens": "08:30", "closes": "12:00"}, 0 = lundi.'
        ),
    )
    opening_hours_note = models.CharField(
        _("précision sur les horaires"),
        max_length=300,
        blank=True,
        help_text=_("Par exemple : fermé les jours fériés."),
    )
    is_active = models.BooleanField(_("actif"), default=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["organisation__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "slug"], name="service_slug_per_organisation"
            ),
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(is_reception=True),
                name="one_reception_service_per_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation})"

    @property
    def opening_hours_display(self) -> str:
        said = describe_opening_hours(self.opening_hours)
        return f"{said}. {self.opening_hours_note}".strip() if self.opening_hours_note else said

    def is_open(self, moment=None) -> bool:
        return is_open_at(self.opening_hours, timezone.localtime(moment))
