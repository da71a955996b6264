from django.contrib.gis import admin
from leaflet.admin import LeafletGeoAdmin

from accounts import permissions
from core.admin import PermissionModuleAdminMixin

from .models import Category, RoutingRule


@admin.register(Category)
class CategoryAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["name", "domain", "allow_anonymous", "photo_required", "sla_days", "is_active"]
    list_filter = ["domain", "is_active", "allow_anonymous", "photo_required"]
    search_fields = ["name", "keywords", "slug"]
    filter_horizontal = ["layers"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(PermissionModuleAdminMixin, LeafletGeoAdmin):
    """Rules are edited with a map widget for their area."""

    list_display = [
        "name",
        "priority",
        "target_service",
        "near_layer",
        "valid_from",
        "valid_until",
        "is_active",
    ]
    list_filter = ["is_active", "target_service__organisation"]
    search_fields = ["name", "description"]
    filter_horizontal = ["categories", "domains", "communes"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "target_service":
            kwargs["queryset"] = permissions.services_user_may_route_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
