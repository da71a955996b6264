"""Report categories and routing rules: data that staff edit, never code.

A category belongs to a domain of competence; the competence table says which organisation
handles that domain on each commune, and routing rules refine it by area, distance to a layer's
features, category or domain, priority and validity dates.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gis_layers.models import Layer
from organisations.models import Domain, Organisation, Service
from territory.models import Commune

from .questions import questions_check


class PublicPosition(models.TextChoices):
    """How precisely the public sees where a category's reports are (the people handling a
    report, its author and the holder of its tracking key always see the exact point)."""

    APPROXIMATE = "approximate", _("approchée (grille de GRC_PUBLIC_PRECISION_M mètres)")
    HIDDEN = "hidden", _("non publiée : la commune seulement (problème qui concerne un domicile)")


class Category(models.Model):
    domain = models.ForeignKey(
        Domain, verbose_name=_("domaine"), on_delete=models.PROTECT, related_name="categories"
    )
    slug = models.SlugField(_("identifiant"), max_length=80, unique=True)
    name = models.CharField(_("nom"), max_length=200)
    keywords = models.CharField(
        _("mots-clés"), max_length=300, blank=True, help_text=_("Pour la recherche, séparés par ;")
    )
    layers = models.ManyToManyField(
        Layer,
        verbose_name=_("couches d'équipements"),
        blank=True,
        related_name="categories",
        help_text=_("Équipements que l'usager peut désigner sur la carte ou par leur numéro."),
    )
    allow_anonymous = models.BooleanField(_("signalement anonyme permis"), default=True)
    photo_required = models.BooleanField(_("photo obligatoire"), default=False)
    extra_questions = models.JSONField(
        _("questions complémentaires"),
        default=list,
        blank=True,
        help_text=_(
            'Liste de {"name", "label", "type": text|choice|boolean, "choices", "required"}.'
        ),
    )
    public_message = models.TextField(_("message de prise en charge"), blank=True)
    sla_days = models.PositiveSmallIntegerField(_("délai cible de résolution (jours)"), default=30)
    source_ids = models.CharField(
        _("catégories DansMaRue d'origine"),
        max_length=100,
        blank=True,
        help_text=_("Identifiants de la nomenclature DansMaRue (Ville de Paris) adaptée."),
    )
    public_position = models.CharField(
        _("position publiée"),
        max_length=12,
        choices=PublicPosition.choices,
        default=PublicPosition.APPROXIMATE,
        help_text=_(
            "« Non publiée » pour un problème qui concerne un domicile (bac non collecté, "
            "nuisibles…) : le public ne voit que la commune, ni point, ni adresse, ni "
            "description, ni photo."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("catégorie de signalement")
        verbose_name_plural = _("catégories de signalement")
        ordering = ["domain__position", "position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def place_is_public(self) -> bool:
        """Whether the public may see where its reports are (approximately), their address,
        description and photos; otherwise the commune only."""
        return self.public_position != PublicPosition.HIDDEN

    def clean(self) -> None:
        super().clean()
        try:
            self.extra_questions = questions_check(self.extra_questions)
        except ValidationError as exc:
            raise ValidationError({"extra_questions": exc.messages}) from None


class RoutingRule(models.Model):
    """Sends matching reports to a service instead of the competent organisation's default one.

    A rule matches when every condition it sets holds: the category or the domain, the commune,
    the point inside ``geom``, the point within ``near_distance_m`` of a feature of
    ``near_layer`` (optionally owned by ``near_owner``), and today within the validity dates.
    Among matching rules the highest priority wins; equal priorities are a conflict that the
    coverage check lists.

    A rule only refines a decision that its target's organisation already holds: the report
    must be one that organisation is competent for (its commune's domains for a commune, the
    agglomeration's competences for the CAHC) or whose equipment it owns. Only the platform
    operator may write a rule that reaches beyond (``beyond_competence``); the write-time
    check is ``routing.services.rule_check``, the decision-time one ``route_for``.
    """

    name = models.CharField(_("nom"), max_length=200)
    description = models.TextField(_("motif"), blank=True)
    priority = models.IntegerField(
        _("priorité"), default=100, help_text=_("La plus haute l'emporte.")
    )
    target_service = models.ForeignKey(
        Service,
        verbose_name=_("service destinataire"),
        on_delete=models.CASCADE,
        related_name="routing_rules",
    )
    categories = models.ManyToManyField(Category, verbose_name=_("catégories"), blank=True)
    domains = models.ManyToManyField(Domain, verbose_name=_("domaines"), blank=True)
    communes = models.ManyToManyField(Commune, verbose_name=_("communes"), blank=True)
    geom = models.MultiPolygonField(
        _("zone"), srid=settings.GRC_STORAGE_SRID, null=True, blank=True
    )
    near_layer = models.ForeignKey(
        Layer,
        verbose_name=_("à proximité des objets de la couche"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    near_distance_m = models.FloatField(_("distance maximale (m)"), null=True, blank=True)
    near_owner = models.ForeignKey(
        Organisation,
        verbose_name=_("objets appartenant à"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    valid_from = models.DateField(_("valable à partir du"), null=True, blank=True)
    valid_until = models.DateField(_("valable jusqu'au"), null=True, blank=True)
    beyond_competence = models.BooleanField(
        _("au-delà des compétences de l'organisation destinataire"),
        default=False,
        help_text=_(
            "Réservé à l'opérateur de la plateforme. Sans cette case, la règle ne fait qu'affiner "
            "l'aiguillage sur le territoire et dans les domaines où l'organisation destinataire "
            "est compétente."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("règle d'aiguillage")
        verbose_name_plural = _("règles d'aiguillage")
        ordering = ["-priority", "name"]
        constraints = [
            models.CheckConstraint(
                name="rule_distance_needs_layer",
                condition=models.Q(near_layer__isnull=True, near_distance_m__isnull=True)
                | models.Q(
                    near_layer__isnull=False, near_distance_m__gt=0, near_distance_m__lte=500
                ),
            ),
            models.CheckConstraint(
                name="rule_dates_in_order",
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__isnull=True)
                | models.Q(valid_from__lte=models.F("valid_until")),
            ),
        ]

    def __str__(self) -> str:
        return self.name
