from django.contrib.gis import admin
from leaflet.admin import LeafletGeoAdmin

from core.admin import PermissionModuleAdminMixin

from .models import Layer, LayerImport


@admin.register(Layer)
class LayerAdmin(PermissionModuleAdminMixin, LeafletGeoAdmin):
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


@admin.register(LayerImport)
class LayerImportAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["layer", "source_name", "status", "imported", "rejected", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in LayerImport._meta.fields]
