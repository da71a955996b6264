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
    equipment = forms.CharField(
        label=_("Numéro de l'équipement (facultatif)"),
        required=False,
        max_length=100,
        help_text=_("Le numéro inscrit sur l'équipement, par exemple EP-0154."),
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
        code = data.get("equipment") or ""
        data["equipment"] = None
        if code and data.get("category") is not None:
            data["equipment"] = self._equipment_id(data["category"], code)
        return data

    def _equipment_id(self, category, code: str) -> int | None:
        """The id of the equipment bearing ``code``; an error on the field when none (of the
        category) does, or when several do."""
        from routing.selectors import equipment_by_code

        matches = equipment_by_code(category, code)
        fitting = [m for m in matches if m.fits_category]
        if len(fitting) == 1:
            return fitting[0].pk
        if len(fitting) > 1:
            message = _("Plusieurs équipements portent le numéro « %(code)s » : %(where)s.") % {
                "code": code.strip(),
                "where": ", ".join(f"{m.ref} ({m.layer_name})" for m in fitting),
            }
        elif matches:
            message = _(
                "L'équipement %(ref)s (%(layer)s) ne relève pas de la catégorie « %(category)s »."
            ) % {"ref": matches[0].ref, "layer": matches[0].layer_name, "category": category}
        else:
            message = _(
                "Aucun équipement ne porte le numéro « %(code)s ». Vérifiez le numéro inscrit "
                "sur l'équipement (par exemple EP-0154)."
            ) % {"code": code.strip()}
        self.add_error("equipment", message)
        return None
