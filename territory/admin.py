from django.contrib.gis import admin
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from core.admin import PermissionModuleAdminMixin

from .models import Commune, Epci


@admin.register(Epci)
class EpciAdmin(PermissionModuleAdminMixin, LeafletGeoAdmin):
    list_display = ["name", "short_name", "siren", "population"]
    readonly_fields = ["source"]


@admin.register(Commune)
class CommuneAdmin(PermissionModuleAdminMixin, LeafletGeoAdmin):
    list_display = ["name", "insee", "department", "population", "member"]
    list_filter = ["epci", "department"]
    search_fields = ["name", "insee", "postal_codes"]
    readonly_fields = ["source"]

    @admin.display(boolean=True, description=_("membre"))
    def member(self, obj: Commune) -> bool:
        return obj.is_member
