from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.gis import admin
from leaflet.admin import LeafletGeoAdmin

from accounts import permissions
from core.admin import PermissionModuleAdminMixin

from .models import Competence, Domain, Organisation, Service


@admin.register(Organisation)
class OrganisationAdmin(PermissionModuleAdminMixin, LeafletGeoAdmin):
    list_display = ["name", "kind", "on_board", "phone", "email"]
    list_filter = ["kind", "on_board"]
    search_fields = ["name"]
    readonly_fields = ["kind", "commune", "epci", "slug"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not permissions.actor_for(request.user).is_superuser:
            fields.append("on_board")  # joining the portal is the operator's decision
        return fields


@admin.register(Domain)
class DomainAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "default_level", "position"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Competence)
class CompetenceAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["commune", "domain", "organisation", "legal_basis"]
    list_filter = ["domain", "organisation", "commune"]
    list_select_related = ["commune", "domain", "organisation"]


@admin.register(Service)
class ServiceAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["name", "organisation", "is_reception", "email", "phone", "is_active"]
    list_filter = [("organisation", RelatedOnlyFieldListFilter), "is_active", "domains"]
    list_select_related = ["organisation"]
    search_fields = ["name", "email"]
    filter_horizontal = ["domains"]
    fields = [
        "organisation",
        "name",
        "slug",
        "description",
        "domains",
        "is_reception",
        "email",
        "phone",
        "on_call_phone",
        "address",
        "opening_hours",
        "opening_hours_note",
        "is_active",
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation":
            kwargs["queryset"] = permissions.organisations_user_may_add_services_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not permissions.can_administer_organisation(
            request.user, obj.organisation
        ):
            return [
                "organisation",
                "slug",
                "is_reception",
                "domains",
            ]  # a manager edits contacts only
        return []
