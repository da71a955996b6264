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
RUN export SECRET_KEY=build-only DATABASE_URL=postgis://build@localhost/build \
 && python manage.py compilemessages --ignore=.venv \
 && python manage.py collectstatic --noinput \
 && mkdir -p /app/.local/media && chown -R grc /app/.local
USER grc
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
