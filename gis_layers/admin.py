from django import forms
from django.contrib.gis import admin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from leaflet.admin import LeafletGeoAdmin

from accounts import permissions
from core.admin import PermissionModuleAdminMixin

from .models import Layer, LayerImport


class LayerAdminForm(forms.ModelForm):
    """Refuses an owner the user may not give a layer to (``permissions.can_own_layer_as``)."""

    user = None  # set by LayerAdmin.get_form

    class Meta:
        model = Layer
        fields = "__all__"  # noqa: DJ007 - the admin's own field list decides

    def clean(self):
        cleaned = super().clean()
        organisation = cleaned.get("owner_organisation")
        service = cleaned.get("owner_service")
        if organisation is not None and service and service.organisation_id != organisation.pk:
            raise forms.ValidationError(
                {"owner_service": _("Ce service n'appartient pas à l'organisation propriétaire.")}
            )
        if organisation is not None and not permissions.can_own_layer_as(
            self.user, organisation.pk, service.pk if service else None
        ):
            raise forms.ValidationError(
                _(
                    "Vous ne pouvez pas confier une couche à cette organisation ou à ce service : "
                    "choisissez votre organisation et un service que vous gérez."
                )
            )
        return cleaned


@admin.register(Layer)
class LayerAdmin(PermissionModuleAdminMixin, LeafletGeoAdmin):
    form = LayerAdminForm
    list_display = [
        "name",
        "slug",
        "owner_organisation",
        "geometry_type",
        "visibility",
        "feature_count",
        "is_synthetic",
    ]
    list_filter = ["visibility", "owner_organisation", "is_synthetic"]
    search_fields = ["name", "slug"]
    readonly_fields = ["feature_count", "extent", "data_version", "updated_at", "created_at"]
    filter_horizontal = ["shared_with"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner_organisation":
            kwargs["queryset"] = permissions.layer_owner_organisations(request.user)
        if db_field.name == "owner_service":
            kwargs["queryset"] = permissions.layer_owner_services(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not permissions.can_own_layer_as(
            request.user, obj.owner_organisation_id, obj.owner_service_id
        ):
            raise PermissionDenied  # the form refuses it first; this guards any other path
        super().save_model(request, obj, form, change)


@admin.register(LayerImport)
class LayerImportAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["layer", "source_name", "status", "imported", "rejected", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in LayerImport._meta.fields]
