"""Base settings, read from the environment, with safe production defaults.

Every deployment-specific value comes from an environment variable (12-factor). Without any,
this module is production-safe: DEBUG off, secure cookies, HSTS, HTTPS redirect, and it refuses
to start without a SECRET_KEY. ``dev`` and ``test`` are thin overrides.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_str, load_env_file

BASE_DIR = Path(__file__).resolve().parent.parent.parent
load_env_file(Path(env_str("GRC_ENV_FILE", str(BASE_DIR / ".local" / "env"))))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY", "") or ""
if not SECRET_KEY and not DEBUG:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set: export SECRET_KEY=<50+ random characters> "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))'), "
        "or DEBUG=1 for development."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Applications ------------------------------------------------------------------------------
# Apps depend downwards: territory and accounts/organisations at the bottom, then gis_layers,
# reports and procedures, intranet on top.
INSTALLED_APPS = [
    "core.admin_apps.PortalAdminConfig",  # django.contrib.admin with our site and permission module
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "leaflet",
    "core",
    "territory",
    "organisations",
    "accounts",
    "gis_layers",
    "routing",
    "addresses",
    "notifications",
    "tracking",
    "reports",
    "citizens",
    "stats",
    "procedures",
    "intranet",
]

MIDDLEWARE = [
    "core.timing.ServerTimingMiddleware",  # a no-op unless GRC_SERVER_TIMING
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.portal",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# PostgreSQL + PostGIS through psycopg 3. How connections are kept depends on the server:
# - gunicorn's sync workers (the deployment: Dockerfile, README) serve one request at a time per
#   process, so each process keeps one persistent connection (CONN_MAX_AGE), checked by Django
#   before a request's first statement (CONN_HEALTH_CHECKS) and replaced when it fails;
# - threaded or ASGI servers share connections through psycopg's pool (DB_POOL=1), which checks
#   a connection out, checks it and gives it back on every request. With one request at a time
#   that is the same single connection plus a checkout per request, in which Django's PostGIS
#   backend also registers its adapters again: 4 % of a 10,000-feature page (bench/README.md).
DATABASE_URL = env_str("DATABASE_URL", "") or ""
if not DATABASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DATABASE_URL is not set: export DATABASE_URL=postgis://user:password@host:5432/name "
            "(or run `./grc run`, which finds or starts a local PostgreSQL)."
        )
    DATABASE_URL = "postgis://postgres@127.0.0.1:5432/libercourt_grc"
DB_POOL = env_bool("DB_POOL", False)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        engine="django.contrib.gis.db.backends.postgis",
        # The development server starts a thread per request: nothing to keep there.
        conn_max_age=0 if DB_POOL or DEBUG else env_int("DB_CONN_MAX_AGE", 300),
        conn_health_checks=True,
    )
}
DATABASES["default"]["OPTIONS"] = {
    "connect_timeout": env_int("DB_CONNECT_TIMEOUT", 5),
    # Django's own cursors bind on the client and never prepare; core.db.bound_cursor() binds
    # on the server, and psycopg prepares a statement after this many runs on a connection.
    "prepare_threshold": 5,
    # No JIT compilation: PostGIS functions declare high costs, so a map or heatmap over a few
    # thousand rows crosses jit_above_cost and spends ~1 s compiling what runs in 0.3 s
    # (bench/public_positions.py, 1M reports); nothing measured here ran faster with it.
    # No synchronized scans: a large table's sequential scan would otherwise start where
    # another one is, so a tile capped by a LIMIT without ORDER BY (gis_layers.selectors.
    # tile_sql) held another 10,000 features at each request (seen on 1M points).
    "options": "-c jit=off -c synchronize_seqscans=off",
}
if DB_POOL:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 1),
        "max_size": env_int("DB_POOL_MAX_SIZE", 10),
        "timeout": env_int("DB_POOL_TIMEOUT", 10),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Spatial -----------------------------------------------------------------------------------
# Storage SRID, chosen once: EPSG:2154 (RGF93 v1 / Lambert-93), the official projection of
# metropolitan France. Reasons: (1) it is metric, so distance rules ("within 15 m of a road"),
# buffers, areas and heatmap grid cells are computed in metres with plain geometry functions and
# GiST indexes, without casting to geography; (2) the communes' and the agglomeration's own GIS
# data (cadastre, networks, IGN BD TOPO) are exchanged in Lambert-93, so imports usually need no
# reprojection; (3) over the CAHC its distortion is about -0.1 cm per 100 m, negligible.
# APIs speak WGS84 (EPSG:4326, RFC 7946) and vector tiles Web Mercator (EPSG:3857): PostGIS
# reprojects in SQL (ST_Transform), never Python row by row.
GRC_STORAGE_SRID = 2154
GRC_API_SRID = 4326

# The portal's public address, for links in mails (tracking links, agents' links), as given:
# production refuses to start without an https one that ALLOWED_HOSTS serves
# (config/settings/production.py); dev and test default to http://localhost:8000.
GRC_SITE_URL = (env_str("SITE_URL", "") or "").strip()

# Basemap shown under our own vector data: "ign" (Plan IGN v2, Géoplateforme WMTS), "osm", or
# "none". With no network the map still draws communes, streets and equipment from our data.
BASEMAPS = {
    "ign": {
        "url": (
            "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
            "&FORMAT=image/png&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
        ),
        "attribution": "© IGN – Plan IGN",
        "origin": "https://data.geopf.fr",
        "max_zoom": 19,
    },
    "osm": {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "© les contributeurs d'OpenStreetMap",
        "origin": "https://tile.openstreetmap.org",
        "max_zoom": 19,
    },
    "none": None,
}
BASEMAP = env_str("BASEMAP", "ign") or "none"
if BASEMAP not in BASEMAPS:
    raise ImproperlyConfigured(f"BASEMAP={BASEMAP!r}: choose one of {', '.join(BASEMAPS)}.")

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (50.4817, 3.0110),  # Libercourt town hall
    "DEFAULT_ZOOM": 14,
    "MIN_ZOOM": 10,
    "MAX_ZOOM": 19,
    # Same basemap as the public maps (the CSP allows its origin); none offline.
    "TILES": [
        (BASEMAP, BASEMAPS[BASEMAP]["url"], {"attribution": BASEMAPS[BASEMAP]["attribution"]})
    ]
    if BASEMAPS.get(BASEMAP)
    else [],
    "RESET_VIEW": False,
    "NO_GLOBALS": True,
    "FORCE_IMAGE_PATH": True,
}

# --- Redis, cache, Celery ---------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "") or "redis://127.0.0.1:6379/0"
_CACHE_TIMEOUT = float(env_str("CACHE_TIMEOUT", "0.5") or "0.5")  # seconds, per cache call
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "grc"),
        # Nothing in the cache is needed to serve a request (core.failopen): when Redis is down
        # or hangs, a request waits one short timeout, then this process goes without it for a
        # few seconds (rate limits not enforced, logged, shown by /healthz).
        "OPTIONS": {"socket_connect_timeout": _CACHE_TIMEOUT, "socket_timeout": _CACHE_TIMEOUT},
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Publishing gives up fast when the broker is down: every task asked for after a commit is also
# kept in the database (the mail outbox), and the beat's sweep sends what was not published.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Europe/Paris"
CELERY_BEAT_SCHEDULE = {
    # The worker writes the time it ran this into Redis: /healthz shows the beat is alive.
    "heartbeat": {"task": "core.heartbeat", "schedule": 30.0},
    # Mails whose first send failed (mail server or broker down) are retried from the outbox.
    "flush-outbox": {"task": "notifications.flush_outbox", "schedule": 60.0},
    "purge-idempotency-keys": {"task": "core.purge_idempotency_keys", "schedule": 3600.0},
    # Sign-ups whose verification link expired (three days) are forgotten.
    "purge-pending-signups": {"task": "accounts.purge_pending_signups", "schedule": 3600.0},
    "photos-sweep": {"task": "reports.photos_sweep", "schedule": 3600.0},
    # Layer imports recorded while the broker was down, or abandoned by their worker. Expires:
    # while long imports hold every worker, sweeps do not pile up behind them.
    "layer-imports-sweep": {
        "task": "gis_layers.imports_sweep",
        "schedule": 120.0,
        "options": {"expires": 120},
    },
    # The open-data files, rebuilt only when the public reports changed (stats/open_data.py).
    "open-data-build": {"task": "stats.open_data_build", "schedule": 3600.0},
}

# --- Authentication ----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation: French first, English second ----------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Static and media --------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".local" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".local" / "media")))
# Report photos live outside MEDIA_ROOT: they are served by a view that checks who may see them.
GRC_PHOTO_ROOT = Path(env_str("PHOTO_ROOT", str(BASE_DIR / ".local" / "photos")))
GRC_PHOTO_MAX_BYTES = env_int("PHOTO_MAX_MB", 10) * 1024 * 1024  # per photo, as uploaded
GRC_PHOTO_MAX_PIXELS = env_int("PHOTO_MAX_MEGAPIXELS", 40) * 1_000_000  # checked before decoding
GRC_PHOTO_MAX_COUNT = 3
GRC_PHOTO_MAX_SIDE = 2048  # stored photos are re-encoded at most this wide or high
GRC_THUMBNAIL_SIDE = 320
# Photos a citizen may add to their report after sending it, all together (the first ones too).
GRC_PHOTO_MAX_PER_REPORT = env_int("PHOTO_MAX_PER_REPORT", 10)
# A resolved request may be reopened by its citizen ("still a problem?") this many days after
# it was resolved; after that, they are asked to make a new report.
GRC_REOPEN_DAYS = env_int("REOPEN_DAYS", 30)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Email -------------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env_str(
    "DEFAULT_FROM_EMAIL", "Portail citoyen <ne-pas-repondre@libercourt.fr>"
)
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# --- Security (production defaults; dev relaxes them) -----------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the orchestrator probes it over plain HTTP
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- REST framework and OpenAPI ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Portail citoyen Libercourt / CAHC – API",
    "DESCRIPTION": "Public and staff APIs of the citizen-relations portal.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Portal ------------------------------------------------------------------------------------
GRC_SITE_NAME = env_str("GRC_SITE_NAME", "Portail citoyen – Libercourt et CAHC")
GRC_HEALTH_TIMEOUT = float(env_str("GRC_HEALTH_TIMEOUT", "1.0") or "1.0")
# /healthz shows its details (versions, workers, errors) to monitoring sending
# "Authorization: Bearer <HEALTHZ_TOKEN>"; empty: only to the staff allowed by accounts.permissions.
GRC_HEALTHZ_TOKEN = env_str("HEALTHZ_TOKEN", "") or ""
if GRC_HEALTHZ_TOKEN and len(GRC_HEALTHZ_TOKEN) < 32:
    raise ImproperlyConfigured(
        "HEALTHZ_TOKEN is too short: use 32+ random characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(32))')."
    )
GRC_LAYER_IMPORT_DIR = Path(env_str("GRC_LAYER_IMPORT_DIR", str(BASE_DIR / ".local" / "imports")))
GRC_LAYER_IMPORT_MAX_BYTES = env_int("GRC_LAYER_IMPORT_MAX_MB", 200) * 1024 * 1024
# A zipped Shapefile's parts, uncompressed (counted while copying them out of the zip).
GRC_LAYER_IMPORT_MAX_UNZIPPED_BYTES = (
    env_int("GRC_LAYER_IMPORT_MAX_UNZIPPED_MB", 1024) * 1024 * 1024
)
# A running import's worker beats this often; another worker takes over an import whose last
# beat is older than STALE (its worker died). Broker redeliveries in between do nothing.
GRC_LAYER_IMPORT_HEARTBEAT_S = env_int("GRC_LAYER_IMPORT_HEARTBEAT_S", 30)
GRC_LAYER_IMPORT_STALE_AFTER_S = env_int("GRC_LAYER_IMPORT_STALE_AFTER_S", 300)
# One run of an import (Celery soft time limit; the worker process is killed a minute later):
# past it the import fails with a message asking for a smaller file.
GRC_LAYER_IMPORT_TIME_LIMIT_S = env_int("GRC_LAYER_IMPORT_TIME_LIMIT_S", 1800)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # larger uploads stream to a temporary file
# Address search: "local" (our table, from the BAN CSV; works offline) or "ban" (the BAN web API,
# falling back to the local table when it cannot be reached).
GRC_ADDRESS_BACKEND = env_str("ADDRESS_BACKEND", "local")
GRC_BAN_API_URL = env_str("BAN_API_URL", "https://api-adresse.data.gouv.fr/search/")
# How often an open report page asks whether the report changed (conditional GET, 304 if not).
GRC_LIVE_POLL_SECONDS = env_int("LIVE_POLL_SECONDS", 15)


# Rate limits on writes, per caller address and per account: (count, seconds) windows.
# ("5/60,30/3600": at most 5 a minute and 30 an hour.)
def _limits(raw: str) -> list[tuple[int, int]]:
    return [tuple(int(n) for n in part.split("/")) for part in raw.split(",") if part.strip()]


GRC_RATE_LIMITS = {
    # every write attempt and photo read, before any work (core.ratelimit)
    "attempt": _limits(env_str("RATE_LIMIT_ATTEMPT", "20/60,200/3600")),
    # what is stored: reports and "me too", accounts
    "report": _limits(env_str("RATE_LIMIT_REPORT", "5/60,30/3600")),
    "signup": _limits(env_str("RATE_LIMIT_SIGNUP", "5/3600")),
    # sign-ups stored per email, whether an account has it or not (accounts.throttle)
    "signup-account": _limits(env_str("RATE_LIMIT_SIGNUP_ACCOUNT", "3/3600")),
    # failed logins (the portal's and the admin's) per account (the email tried) and per
    # address; a browser that logged in to the account before is counted on its own, with the
    # account's limits (accounts.throttle.login_attempt)
    "login-account": _limits(env_str("RATE_LIMIT_LOGIN", "5/300,20/3600")),
    "login-address": _limits(env_str("RATE_LIMIT_LOGIN_ADDRESS", "20/300,100/3600")),
    # password reset requests per email (whether an account has it or not) and per address
    "reset-account": _limits(env_str("RATE_LIMIT_PASSWORD_RESET", "3/3600")),
    "reset-address": _limits(env_str("RATE_LIMIT_PASSWORD_RESET_ADDRESS", "10/3600")),
    # wrong passwords on the verification links of an account, all its links together
    # (accounts.throttle.verification_attempt)
    "verify-account": _limits(env_str("RATE_LIMIT_VERIFY", "5/3600")),
    # a citizen's updates stored on their request: messages, photos, reopening, follows,
    # contact addresses (tracking.services, reports.updates)
    "update": _limits(env_str("RATE_LIMIT_UPDATE", "10/60,60/3600")),
}
GRC_RATE_LIMITS["login-device"] = GRC_RATE_LIMITS["login-account"]
# How many proxies in front of the portal append to X-Forwarded-For (0: use REMOTE_ADDR; 1 behind
# one reverse proxy). The client is read that many entries from the right, what is left of it is
# the client's own words (core.ratelimit.client_address); the web port must then be reachable
# through those proxies only, or anyone could name their own address. Too small a count makes
# every visitor one caller (the proxy), too large lets each one choose its address.
GRC_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Words that hold a report for moderation before it is public (besides links), lower case.
GRC_MODERATION_WORDS = frozenset(
    w.strip().lower()
    for w in env_str("MODERATION_WORDS", "connard,salope,encule,pute").split(",")
    if w.strip()
)
# Public heatmaps show only cells with at least this many requests.
GRC_HEATMAP_K = env_int("HEATMAP_K", 5)
# Where the public sees a report (map, OGC collection, report API, open data, the journey's
# "already reported here"): its point snapped to a grid of this many metres in Lambert-93, so at
# most 0.71 x this from the real one (reports/positions.py); categories about a home: no point.
GRC_PUBLIC_PRECISION_M = max(1, env_int("GRC_PUBLIC_PRECISION_M", 10))
# Open data (stats/open_data.py): files written by the worker, served by the web: a volume that
# both mount in production. Rebuilt when the public reports changed, at least once a day.
GRC_OPEN_DATA_DIR = Path(env_str("GRC_OPEN_DATA_DIR", str(BASE_DIR / ".local" / "open-data")))
GRC_OPEN_DATA_MAX_AGE_S = 86_400
GRC_OPEN_DATA_STATEMENT_TIMEOUT_S = 300
# The build task's soft time limit (hard: one minute more).
GRC_OPEN_DATA_TIME_LIMIT_S = env_int("GRC_OPEN_DATA_TIME_LIMIT_S", 900)
GRC_OPEN_DATA_RETRY_AFTER_S = 120  # the 503 before the first build
# Staff exports (stats/views.py): CSV and GeoJSON are streamed, XLSX and GeoPackage written to a
# temporary file then sent; each under a row cap (a message says to narrow the filters) and a
# wall-clock deadline for the whole export (counting, reading, writing), under gunicorn's 30 s:
# past it a file export says so, a streamed one is cut off (an incomplete download, never a
# file that looks whole). Measured on 100,000 reports: CSV 5 s, GeoJSON 10 s, GeoPackage 7 s,
# XLSX 44 s (bench/export_memory.py). Each statement is also cancelled after its own timeout.
GRC_EXPORT_DEADLINE_S = env_int("GRC_EXPORT_DEADLINE_S", 25)
GRC_EXPORT_STATEMENT_TIMEOUT_S = env_int("GRC_EXPORT_STATEMENT_TIMEOUT_S", 20)
GRC_EXPORT_MAX_ROWS = env_int("GRC_EXPORT_MAX_ROWS", 100_000)  # CSV, GeoJSON
GRC_EXPORT_FILE_MAX_ROWS = env_int("GRC_EXPORT_FILE_MAX_ROWS", 20_000)  # XLSX, GeoPackage
# Server-Timing headers (core/timing.py): for developers and the benchmarks, off by default.
GRC_SERVER_TIMING = env_bool("GRC_SERVER_TIMING", False)
GRC_DEMO_DATA_ALLOWED = DEBUG  # the demo command refuses to run on a production configuration

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- GDAL ----------------------------------------------------------------------------------------
# Django 5.2.19+ asks for GDAL >= 3.9, the first release that lets it block file and network
# access when parsing spatial references (gis.W001). Debian 12 ships GDAL 3.6, so we load the
# GDAL 3.12 that the pyogrio wheel bundles (PROJ and its data inside) unless GDAL_LIBRARY_PATH
# names another one. Debian's GEOS is used as is. That GDAL is hardened for layer uploads
# (config/gdal.py): only the GeoJSON, GPKG, ESRI Shapefile and CSV drivers exist in the portal's
# processes, so rasters (GDALRaster, RasterField, raster lookups: they need the MEM driver) are
# unavailable; coordinate transformations and SpatialReference work.
from config.gdal import configure_gdal  # noqa: E402

GDAL_LIBRARY_PATH = configure_gdal(env_str("GDAL_LIBRARY_PATH"))
