"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from config.env import env_bool
from core.memory import keep_freed_memory

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
if env_bool("GRC_MALLOC_TUNING", True):
    keep_freed_memory()  # large pages: see core/memory.py
application = get_wsgi_application()
