from django.conf import settings

from accounts import permissions


def portal(request):
    """Site name and, lazily, the user's access to the staff areas (for the navigation)."""
    user = getattr(request, "user", None)
    return {
        "site_name": settings.GRC_SITE_NAME,
        "csp_nonce": getattr(request, "csp_nonce", ""),
        "can_access_intranet": lambda: permissions.can_access_intranet(user),
    }
