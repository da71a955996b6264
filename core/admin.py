"""The Django admin site for staff, in French, deferring every decision to accounts.permissions."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts import permissions
from accounts.forms import AdminLoginForm
from core import ratelimit


class PortalAdminSite(admin.AdminSite):
    site_header = _("Portail citoyen – administration")
    site_title = _("Administration du portail")
    index_title = _("Gestion des données du portail")

    login_form = AdminLoginForm  # failed passwords counted, as on the portal's login page

    def has_permission(self, request) -> bool:
        return request.user.is_active and permissions.can_access_admin(request.user)

    def login(self, request, extra_context=None):
        return ratelimit.throttled_login(super().login)(request, extra_context)


class PermissionModuleAdminMixin:
    """ModelAdmin permissions and querysets from accounts.permissions, not from Django's perms."""

    def has_module_permission(self, request) -> bool:
        return permissions.admin_allows(request.user, "view", self.model)

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.admin_allows(request.user, "view", self.model, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return permissions.admin_allows(request.user, "add", self.model)

    def has_change_permission(self, request, obj=None) -> bool:
        return permissions.admin_allows(request.user, "change", self.model, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.admin_allows(request.user, "delete", self.model, obj)

    def get_queryset(self, request):
        return permissions.admin_queryset(request.user, self.model, super().get_queryset(request))
