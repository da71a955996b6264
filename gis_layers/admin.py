from django import forms
from django.contrib.gis import admin
from django.utils.translation import gettext as _
from leaflet.admin import LeafletGeoAdmin

from accounts import permissions
from core.admin import PermissionModuleAdminMixin

from .models import Layer, LayerImport


class LayerAdminForm(forms.ModelForm):
    """Refuses an owner the user may not choose (``permissions.can_own_layer_as``); that the
    service belongs to the owner organisation is ``Layer.clean``'s rule."""

    user = None  # set by LayerAdmin.get_form

    class Meta:
        model = Layer
        fields = "__all__"  # noqa: DJ007 - the admin's own field list decides

    def clean(self):
        cleaned = super().clean()
        if self.has_error("owner_organisation") or self.has_error("owner_service"):
            return cleaned  # a value the form did not offer: already refused
        organisation = cleaned.get("owner_organisation")
        service = cleaned.get("owner_service")
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
            kwargs["queryset"] = permissions.services_user_may_manage(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(LayerImport)
class LayerImportAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["layer", "source_name", "status", "imported", "rejected", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in LayerImport._meta.fields]
