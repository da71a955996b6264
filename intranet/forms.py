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
