"""GIS layers: a catalogue of layers and one feature table built for millions of rows per layer.

Features of every layer live in one table, indexed by (layer, geometry) with a composite GiST
index (btree_gist) and by (layer, ref); attributes are a JSONB document with a GIN index, so they
stay queryable without a table per layer. A re-import replaces a layer's features inside one
transaction: readers see the old version or the new one, never half of it.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from organisations.models import Domain, Organisation, Service


class Layer(models.Model):
    class GeometryType(models.TextChoices):
        POINT = "Point", _("Point")
        LINESTRING = "LineString", _("Ligne")
        POLYGON = "Polygon", _("Polygone")
        MULTIPOINT = "MultiPoint", _("Multipoint")
        MULTILINESTRING = "MultiLineString", _("Multiligne")
        MULTIPOLYGON = "MultiPolygon", _("Multipolygone")
        GEOMETRY = "Geometry", _("Géométrie quelconque")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Publique")
        INTERNAL = "internal", _("Interne à l'organisation propriétaire")
        SHARED = "shared", _("Partagée avec des organisations désignées")

    slug = models.SlugField(_("identifiant"), max_length=80, unique=True)
    name = models.CharField(_("nom"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    owner_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation propriétaire"),
        on_delete=models.PROTECT,
        related_name="layers",
    )
    owner_service = models.ForeignKey(
        Service,
        verbose_name=_("service gestionnaire"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="layers",
    )
    domain = models.ForeignKey(
        Domain,
        verbose_name=_("domaine"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="layers",
    )
    geometry_type = models.CharField(
        _("type de géométrie"), max_length=20, choices=GeometryType.choices
    )
    attribute_schema = models.JSONField(
        _("schéma des attributs"),
        default=list,
        blank=True,
        help_text=_(
            'Liste de {"name", "type", "label"} ; type : string, integer, number, boolean.'
        ),
    )
    tile_properties = models.JSONField(
        _("attributs des tuiles vectorielles"),
        default=list,
        blank=True,
        help_text=_(
            "Noms des attributs portés par les tuiles, en plus de l'identifiant (ceux dont le "
            'style de la carte a besoin), par exemple ["type"] ; vide : l\'identifiant seul. '
            "Les pages GeoJSON portent toujours tous les attributs."
        ),
    )
    identifier_label = models.CharField(
        _("libellé de l'identifiant"),
        max_length=100,
        blank=True,
        default="Identifiant",
        help_text=_("Ce qui est inscrit sur l'équipement (plaque, numéro)."),
    )
    licence = models.CharField(_("licence"), max_length=200, default="Licence Ouverte 2.0 (Etalab)")
    attribution = models.CharField(_("attribution"), max_length=300, blank=True)
    is_synthetic = models.BooleanField(
        _("données synthétiques"),
        default=False,
        help_text=_("Générées pour la démonstration, ne décrivent pas le terrain réel."),
    )
    visibility = models.CharField(
        _("visibilité"), max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    shared_with = models.ManyToManyField(
        Organisation, verbose_name=_("partagée avec"), blank=True, related_name="shared_layers"
    )
    feature_count = models.PositiveIntegerField(_("nombre d'objets"), default=0)
    extent = models.PolygonField(
        _("emprise"), srid=settings.GRC_STORAGE_SRID, null=True, blank=True
    )
    data_version = models.PositiveIntegerField(
        _("version des données"),
        default=0,
        help_text=_("Incrémentée à chaque import ou modification."),
    )
    updated_at = models.DateTimeField(_("dernière mise à jour"), auto_now=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("couche")
        verbose_name_plural = _("couches")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """A layer's service belongs to its owner organisation (whoever chose them); its tiles
        carry attributes of its schema only."""
        tile_properties = self.tile_properties or []
        if not isinstance(tile_properties, list) or not all(
            isinstance(name, str) for name in tile_properties
        ):
            raise ValidationError({"tile_properties": _("Une liste de noms d'attributs.")})
        unknown = [n for n in tile_properties if n != "ref" and n not in self.property_names]
        if unknown:
            raise ValidationError(
                {
                    "tile_properties": _("Attributs absents du schéma de la couche : %(names)s.")
                    % {"names": ", ".join(unknown[:10])}
                }
            )
        if (
            self.owner_organisation_id is not None
            and self.owner_service_id is not None
            and self.owner_service.organisation_id != self.owner_organisation_id
        ):
            raise ValidationError(
                {"owner_service": _("Ce service n'appartient pas à l'organisation propriétaire.")}
            )

    @property
    def property_names(self) -> list[str]:
        return [a["name"] for a in self.attribute_schema]


class Feature(models.Model):
    """One feature of a layer. ``properties`` always carries the visible identifier as "ref".

    The table also has a stored generated column ``geojson`` (migration 0003, not a model field):
    the feature's GeoJSON in WGS84, maintained by PostgreSQL and concatenated by the selectors.
    """

    # db_index=False: the (layer, id) index below serves the foreign key and the pages, which
    # walk a layer's features in id order (keyset paging, gis_layers.selectors._page_sql).
    layer = models.ForeignKey(
        Layer, on_delete=models.CASCADE, related_name="features", db_index=False
    )
    ref = models.CharField(_("identifiant visible"), max_length=100, blank=True)
    # spatial_index=False: the composite GiST index (layer_id, geom) replaces it (see migration).
    geom = models.GeometryField(srid=settings.GRC_STORAGE_SRID, spatial_index=False)
    properties = models.JSONField(default=dict, blank=True)
    owner_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Propriétaire de l'équipement (oriente les signalements)."),
    )

    class Meta:
        verbose_name = _("objet")
        verbose_name_plural = _("objets")
        indexes = [
            models.Index(fields=["layer", "id"], name="feature_layer_id"),
            models.Index(fields=["layer", "ref"], name="feature_layer_ref"),
            GinIndex(
                fields=["properties"], name="feature_properties_gin", opclasses=["jsonb_path_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.layer.slug}:{self.ref or self.pk}"


class LayerImport(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        RUNNING = "running", _("En cours")
        SUCCEEDED = "succeeded", _("Terminé")
        FAILED = "failed", _("Échoué")

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="imports")
    source_name = models.CharField(_("fichier"), max_length=255)
    source_path = models.CharField(max_length=500, blank=True)
    source_format = models.CharField(_("format"), max_length=20, blank=True)
    source_srid = models.IntegerField(_("SRID source"), null=True, blank=True)
    ref_field = models.CharField(_("champ identifiant"), max_length=100, blank=True)
    status = models.CharField(
        _("état"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    total = models.PositiveIntegerField(_("objets lus"), default=0)
    imported = models.PositiveIntegerField(_("objets importés"), default=0)
    rejected = models.PositiveIntegerField(_("objets rejetés"), default=0)
    errors = models.JSONField(_("erreurs"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("demandé le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    # Who runs it (services.layer_import_run): a worker claims the import, beats while it runs,
    # and writes the outcome only while the claim is still its own; an import whose worker fell
    # silent is taken over, at most services.MAX_ATTEMPTS runs in all.
    heartbeat_at = models.DateTimeField(_("dernier signe de vie"), null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    # When a worker was last asked to run it (None: the publish after the commit failed, the
    # broker being down; gis_layers.services.layer_imports_sweep asks again).
    queued_at = models.DateTimeField(_("confié à un worker le"), null=True, blank=True)

    class Meta:
        verbose_name = _("import de couche")
        verbose_name_plural = _("imports de couches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.layer} ← {self.source_name} ({self.get_status_display()})"
