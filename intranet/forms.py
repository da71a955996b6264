from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class LayerImportForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier"),
        help_text=_("GeoJSON, GeoPackage, Shapefile zippé ou CSV avec colonnes lon/lat."),
    )
    ref_field = forms.CharField(
        label=_("Champ identifiant (facultatif)"),
        required=False,
        max_length=100,
        help_text=_("Le champ qui porte le numéro inscrit sur l'équipement."),
    )
    source_srid = forms.IntegerField(
        label=_("Code EPSG du fichier (facultatif)"),
        required=False,
        min_value=1024,
        max_value=999999,
        help_text=_("Seulement si le fichier ne dit pas son système de coordonnées."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.GRC_LAYER_IMPORT_MAX_BYTES:
            limit = settings.GRC_LAYER_IMPORT_MAX_BYTES // (1024 * 1024)
            raise forms.ValidationError(
                _("Fichier trop volumineux (maximum %(mb)s Mo).") % {"mb": limit}
            )
        return upload


class RoutingSimulationForm(forms.Form):
    category = forms.ModelChoiceField(
        label=_("Catégorie"), queryset=None, to_field_name="slug", empty_label=None
    )
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    equipment = forms.IntegerField(
        label=_("Équipement (identifiant interne, facultatif)"), required=False, min_value=1
    )
    date = forms.DateField(
        label=_("Date de la décision (facultatif)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Pour tester les règles à validité limitée."),
    )

    def __init__(self, *args, **kwargs):
        from routing.models import Category

        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.select_related("domain").filter(
            is_active=True
        )

    def clean(self):
        from django.contrib.gis.geos import Point

        data = super().clean()
        if data.get("lon") is not None and data.get("lat") is not None:
            data["point"] = Point(data["lon"], data["lat"], srid=4326)
        return data
