"""The Django admin site for staff, in French, deferring every decision to accounts.permissions."""

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from accounts import permissions
from accounts.forms import AdminLoginForm
from accounts.views import LoginView


class PortalAdminSite(admin.AdminSite):
    site_header = _("Portail citoyen – administration")
    site_title = _("Administration du portail")
    index_title = _("Gestion des données du portail")

    login_form = AdminLoginForm  # failed passwords counted, as on the portal's login page

    def has_permission(self, request) -> bool:
        return request.user.is_active and permissions.can_access_admin(request.user)

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        """Django's admin login (its context, its redirect), answered by the portal's login
        view: Django's ``AdminSite.login`` names ``auth.views.LoginView`` inside its body, so
        this is that body with ``accounts.views.LoginView`` (failed passwords counted, 429,
        the browser remembered), as on ``/compte/connexion/``."""
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": _("Connexion"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        return LoginView.as_view(
            extra_context=context,
            authentication_form=self.login_form,
            template_name=self.login_template or "admin/login.html",
        )(request)


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
