#!/usr/bin/env bash
# Set up everything the portal needs, then run it or test it. See ./grc for usage.
set -euo pipefail

MODE="${1:-}"; shift || true
case "$MODE" in run|test|setup) ;; *) echo "usage: ./grc run | ./grc test [pytest args] | ./grc setup" >&2; exit 64;; esac

ROOT="$(pwd)"
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
DB_NAME="${GRC_DB_NAME:-libercourt_grc}"
EMBEDDED_PG_PORT="${GRC_EMBEDDED_PG_PORT:-5433}"
EMBEDDED_REDIS_PORT="${GRC_EMBEDDED_REDIS_PORT:-6380}"
mkdir -p "$LOCAL"

log()  { printf '\033[1m==> %s\033[0m\n' "$*"; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "root rights are needed to run: $* (run as root or install sudo)"; fi
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
pg_url_for_psql() { printf '%s' "$1" | sed -E 's#^(postgis|pgsql|postgres)://#postgresql://#'; }

# --- 1. System packages ------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do installed "$pkg" || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "Installing system packages: ${missing[*]}"
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

command -v dpkg-query >/dev/null || die "this script expects Debian (dpkg/apt)."
# GEOS for GeoDjango, GDAL/PROJ tools for imports by hand, psql client, Redis, gettext for i18n.
apt_install ca-certificates postgresql-client postgresql-common libgeos-c1v5 gdal-bin proj-bin redis-server redis-tools gettext

local_server_major() {
  # The major version of the Debian cluster listening on 127.0.0.1:5432, if any.
  command -v pg_lsclusters >/dev/null || return 0
  pg_lsclusters -h 2>/dev/null | awk '$3 == 5432 && $4 ~ /online/ {print $1; exit}'
}
PG_MAJOR="$(local_server_major)"
if [ -z "${DATABASE_URL:-}" ]; then
  if [ -n "$PG_MAJOR" ]; then
    apt_install "postgresql-$PG_MAJOR-postgis-3"
  elif ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    # No server at all: the embedded cluster uses Debian's default PostgreSQL.
    apt_install postgresql postgis
    PG_MAJOR="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    apt_install "postgresql-$PG_MAJOR-postgis-3"
  fi
fi
if [ "$MODE" = test ]; then
  apt_install chromium fonts-dejavu-core docker-compose
fi

# --- 2. Python virtualenv ----------------------------------------------------------------------
PY="${GRC_PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY="$(command -v "$candidate")"; break
    fi
  done
fi
[ -n "$PY" ] || die "Python 3.11 is required (Debian 12's python3). Set GRC_PYTHON=/path/to/python3.11."
if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then apt_install python3-venv python3-pip; fi
if [ ! -x "$VENV/bin/python" ]; then
  log "Creating the virtualenv in .venv"
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.grc-installed"
WANT="$(sha256sum pyproject.toml | cut -c1-16)-test"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  log "Installing the project and its dependencies into .venv"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  echo "$WANT" > "$STAMP"
fi
PYTHON="$VENV/bin/python"

# --- 3. PostgreSQL + PostGIS -------------------------------------------------------------------
start_embedded_postgres() {
  local bin="/usr/lib/postgresql/$PG_MAJOR/bin" data="$LOCAL/pgdata" run="$LOCAL/pgrun"
  local as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  mkdir -p "$data" "$run"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$data" "$run"
  if [ -n "${as[*]}" ] && ! "${as[@]}" test -w "$data"; then
    die "the 'postgres' user cannot reach $data; give it access (chmod o+x on the parent folders) or set DATABASE_URL."
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    log "Initialising a project-local PostgreSQL $PG_MAJOR cluster in .local/pgdata"
    "${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! pg_isready -q -h 127.0.0.1 -p "$EMBEDDED_PG_PORT"; then
    log "Starting the project-local PostgreSQL on 127.0.0.1:$EMBEDDED_PG_PORT"
    "${as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $EMBEDDED_PG_PORT -k $run -c listen_addresses=127.0.0.1" start >/dev/null
  fi
}

# GRC_DB_MODE=embedded forces the project-local cluster even when a server answers on 5432.
if [ "${GRC_DB_MODE:-auto}" = embedded ] && [ -z "${DATABASE_URL:-}" ]; then
  [ -n "$PG_MAJOR" ] || PG_MAJOR="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
  apt_install "postgresql-$PG_MAJOR-postgis-3"
  start_embedded_postgres
  ADMIN_URL="postgresql://postgres@127.0.0.1:$EMBEDDED_PG_PORT/postgres"
  GRC_DATABASE_URL="postgis://postgres@127.0.0.1:$EMBEDDED_PG_PORT/$DB_NAME"
elif [ -n "${DATABASE_URL:-}" ]; then
  ADMIN_URL="$(pg_url_for_psql "$DATABASE_URL")"
  psql "$ADMIN_URL" -tAc 'select 1' >/dev/null 2>&1 \
    || die "DATABASE_URL is set but the database does not answer: check host, port, credentials and that it exists."
  GRC_DATABASE_URL="$DATABASE_URL"
elif pg_isready -q -h 127.0.0.1 -p 5432; then
  if psql "postgresql://postgres@127.0.0.1:5432/postgres" -tAc 'select 1' >/dev/null 2>&1; then
    ROLE_URL="postgresql://postgres@127.0.0.1:5432"
  else
    # Password authentication on TCP (Debian's default): create a local superuser role once,
    # through the unix socket as the postgres system user.
    [ "$(id -u)" = 0 ] || command -v sudo >/dev/null || die "PostgreSQL on 127.0.0.1:5432 needs a password: set DATABASE_URL."
    as_root runuser -u postgres -- psql -q -tAc "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='grc') THEN CREATE ROLE grc LOGIN SUPERUSER PASSWORD 'grc'; END IF; END\$\$;" \
      || die "cannot create the 'grc' role in the local PostgreSQL: set DATABASE_URL."
    ROLE_URL="postgresql://grc:grc@127.0.0.1:5432"
  fi
  ADMIN_URL="$ROLE_URL/postgres"
  GRC_DATABASE_URL="$(printf '%s' "$ROLE_URL" | sed 's#^postgresql://#postgis://#')/$DB_NAME"
else
  start_embedded_postgres
  ADMIN_URL="postgresql://postgres@127.0.0.1:$EMBEDDED_PG_PORT/postgres"
  GRC_DATABASE_URL="postgis://postgres@127.0.0.1:$EMBEDDED_PG_PORT/$DB_NAME"
fi
if [ -z "${DATABASE_URL:-}" ]; then
  if [ "$(psql "$ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
    log "Creating database $DB_NAME"
    psql "$ADMIN_URL" -q -c "CREATE DATABASE $DB_NAME"
  fi
fi
DB_PSQL_URL="$(pg_url_for_psql "$GRC_DATABASE_URL")"
psql "$DB_PSQL_URL" -q -c 'CREATE EXTENSION IF NOT EXISTS postgis' 2>/dev/null \
  || die "cannot enable PostGIS in the database: install postgresql-<major>-postgis-3 on its server, or connect as a role allowed to CREATE EXTENSION."

# --- 4. Redis ------------------------------------------------------------------------------------
if [ -n "${REDIS_URL:-}" ]; then
  redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || die "REDIS_URL is set but Redis does not answer at it."
  GRC_REDIS_URL="$REDIS_URL"
elif redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  GRC_REDIS_URL="redis://127.0.0.1:6379/0"
else
  mkdir -p "$LOCAL/redis"
  if ! redis-cli -h 127.0.0.1 -p "$EMBEDDED_REDIS_PORT" ping >/dev/null 2>&1; then
    log "Starting a project-local Redis on 127.0.0.1:$EMBEDDED_REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$EMBEDDED_REDIS_PORT" --dir "$LOCAL/redis" \
      --pidfile "$LOCAL/redis/redis.pid" --logfile "$LOCAL/redis/redis.log" --save "" --appendonly no
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$EMBEDDED_REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  GRC_REDIS_URL="redis://127.0.0.1:$EMBEDDED_REDIS_PORT/0"
fi

# manage.py and the Celery processes read these when they are not in the environment.
umask 077
printf 'DATABASE_URL=%s\nREDIS_URL=%s\n' "$GRC_DATABASE_URL" "$GRC_REDIS_URL" > "$LOCAL/env"
umask 022
export DATABASE_URL="$GRC_DATABASE_URL" REDIS_URL="$GRC_REDIS_URL"

# --- 5. Run or test ------------------------------------------------------------------------------
"$PYTHON" manage.py compilemessages -v 0 --ignore=.venv --ignore=.local
if [ "$MODE" = setup ]; then log "Set up: database $DATABASE_URL, Redis $REDIS_URL"; exit 0; fi

if [ "$MODE" = run ]; then
  export DJANGO_SETTINGS_MODULE=config.settings.dev DEBUG=1
  log "Applying migrations"
  "$PYTHON" manage.py migrate --noinput -v 0
  log "Loading Libercourt demo data"
  "$PYTHON" manage.py load_demo_data
  PIDS=()
  cleanup() { [ ${#PIDS[@]} -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null || true; }
  trap cleanup EXIT INT TERM
  "$VENV/bin/celery" -A config worker -l warning -n "grc-dev@%h" --concurrency 2 &
  PIDS+=($!)
  "$VENV/bin/celery" -A config beat -l warning -s "$LOCAL/celerybeat-schedule" &
  PIDS+=($!)
  log "Portal at http://127.0.0.1:8000  (health: /healthz, admin: /admin/) – Ctrl-C to stop"
  "$PYTHON" manage.py runserver 127.0.0.1:8000 --noreload &
  PIDS+=($!)
  wait "${PIDS[-1]}"
  exit $?
fi

export DJANGO_SETTINGS_MODULE=config.settings.test GRC_CHROMIUM="${GRC_CHROMIUM:-/usr/bin/chromium}"
log "ruff check"
"$VENV/bin/ruff" check .
log "ruff format --check"
"$VENV/bin/ruff" format --check .
log "makemigrations --check"
"$PYTHON" manage.py makemigrations --check --dry-run -v 1
log "pytest"
exec "$VENV/bin/pytest" --create-db "$@"
