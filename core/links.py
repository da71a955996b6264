"""Absolute links to the portal for mails and other messages read outside a request."""

from django.conf import settings


def site_url(path: str) -> str:
    """``path`` on the portal's public address (SITE_URL)."""
    return f"{settings.GRC_SITE_URL.rstrip('/')}{path}"
