"""Test settings: the real services (PostGIS, Redis) with test-only isolation.

Redis: separate database numbers (REDIS_TEST_DB for the cache, default 15, and the one below it
for the Celery broker) so that a running demo is untouched and clearing the test cache never
drops the broker's queues and bindings.
"""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault(
    "SECRET_KEY", "test-only-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddccbbaa99887766"
)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("BASEMAP", "none")

from .base import *  # noqa: F403
from .base import CACHES, GRC_SITE_URL, REDIS_URL, STORAGES

_db = int(os.environ.get("REDIS_TEST_DB", "15"))


def _with_db(url: str, number: int) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") >= 3 else url.rstrip("/")
    return f"{base}/{number}"


REDIS_URL = _with_db(REDIS_URL, _db)
CACHES = {"default": {**CACHES["default"], "LOCATION": REDIS_URL, "KEY_PREFIX": "grc-test"}}
CELERY_BROKER_URL = _with_db(REDIS_URL, _db - 1)
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; not for production
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
GRC_DEMO_DATA_ALLOWED = True
GRC_SITE_URL = GRC_SITE_URL or "http://localhost:8000"  # links in mails

# Static files straight from the apps (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Report photos written by the tests (and by the Celery worker the browser tests start).
GRC_PHOTO_ROOT = BASE_DIR / ".local" / "test-photos"  # noqa: F405
