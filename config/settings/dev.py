"""Local development: DEBUG on, plain HTTP, mails printed on the console unless EMAIL_HOST."""

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403
from .base import GRC_SITE_URL, STORAGES, env_str

SECRET_KEY = SECRET_KEY or "dev-only-key-4b2f1e0c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0"  # noqa: F405
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
if not os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
INTERNAL_IPS = ["127.0.0.1"]
GRC_SITE_URL = GRC_SITE_URL or "http://localhost:8000"  # links in mails
BASEMAP = env_str("BASEMAP", "ign")

# Static files straight from the apps (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
