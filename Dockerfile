# Production image: gunicorn for the web, the same image for the Celery worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production
# GEOS for GeoDjango; GDAL >= 3.9 comes inside the pyogrio wheel (see config/gdal.py);
# gettext compiles the translations.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgeos-c1v5 gettext postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app --uid 10001 grc
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY core core
COPY accounts accounts
COPY territory territory
COPY organisations organisations
COPY gis_layers gis_layers
COPY reports reports
COPY procedures procedures
COPY intranet intranet
RUN pip install .
COPY . .
# The build runs the production settings, which need a public https address: a reserved name.
# Static files belong to root (the portal only reads them). The directories that docker-compose
# mounts named volumes on are created here owned by grc: an empty named volume takes its owner
# and mode from the image's directory (else root, and the portal could not write its photos).
RUN export SECRET_KEY=build-only DATABASE_URL=postgis://build@localhost/build \
      SITE_URL=https://build.invalid ALLOWED_HOSTS=build.invalid \
 && python manage.py compilemessages --ignore=.venv \
 && python manage.py collectstatic --noinput \
 && install -d -o grc -g grc -m 0750 /app/media /app/photos /app/imports /app/open-data \
      /app/beat /app/.local/media /app/.local/photos /app/.local/imports /app/.local/open-data
USER grc
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
