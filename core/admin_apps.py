from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """django.contrib.admin, with a site whose access goes through accounts.permissions."""

    default_site = "core.admin.PortalAdminSite"
