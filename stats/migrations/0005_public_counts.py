import importlib
import re

from django.db import migrations

# What the public sees is what the public map shows: reports not hidden by moderation (held
# ones are hidden too); procedures never. Both aggregate tables get a "public" dimension:
# stats_heatcell (value ''), stats_monthcount (value: the commune), so the public heatmap and
# the public counts per commune never count a hidden report.
#
# Visibility lives on the report's own row (reports_report, multi-table inheritance), written
# after the request's row and deleted before it. So the request's trigger counts "public" only
# when a visible report row exists (never at insert, never at delete: the report's row is not
# there), and a trigger on reports_report adds or removes the public count when the report row
# is inserted, deleted, or hidden/shown.
SQL = """
CREATE FUNCTION stats_is_public(request_id bigint) RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT EXISTS (SELECT 1 FROM reports_report r
                   WHERE r.citizenrequest_ptr_id = request_id AND NOT r.is_hidden);
$fn$;

CREATE OR REPLACE FUNCTION stats_heat_put(
    r tracking_citizenrequest, delta integer, public_only boolean
) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    lvl integer;
    size double precision;
    m date;
    public boolean := public_only OR stats_is_public(r.id);
BEGIN
    IF r.location IS NULL THEN
        RETURN;
    END IF;
    m := date_trunc('month', r.created_at AT TIME ZONE 'Europe/Paris')::date;
    FOR lvl IN 3..7 LOOP
        size := 25.0 * (2 ^ lvl);
        INSERT INTO stats_heatcell AS h (level, month, ix, iy, dim, value, n)
        SELECT lvl, m, floor(ST_X(r.location) / size)::int, floor(ST_Y(r.location) / size)::int,
               d.dim, d.value, delta
        FROM (VALUES ('all', ''), ('category', coalesce(r.category_id::text, '')),
                     ('status', r.status), ('service', coalesce(r.service_id::text, '')),
                     ('organisation', coalesce(r.organisation_id::text, '')),
                     ('public', '')) AS d(dim, value)
        WHERE (d.dim = 'public' AND public) OR (d.dim <> 'public' AND NOT public_only)
        ON CONFLICT ON CONSTRAINT heatcell_key DO UPDATE SET n = h.n + EXCLUDED.n;
    END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION stats_month_put(
    r tracking_citizenrequest, delta integer, public_only boolean
) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    public boolean := public_only OR stats_is_public(r.id);
BEGIN
    INSERT INTO stats_monthcount AS m (month, organisation_id, service_id, dim, value, n)
    SELECT date_trunc('month', r.created_at AT TIME ZONE 'Europe/Paris')::date,
           coalesce(r.organisation_id, 0), coalesce(r.service_id, 0), d.dim, d.value, delta
    FROM (VALUES ('all', ''), ('status', r.status),
                 ('category', coalesce(r.category_id::text, '')),
                 ('commune', coalesce(r.commune_id::text, '')),
                 ('channel', r.channel),
                 ('public', coalesce(r.commune_id::text, ''))) AS d(dim, value)
    WHERE (d.dim = 'public' AND public) OR (d.dim <> 'public' AND NOT public_only)
    ON CONFLICT ON CONSTRAINT monthcount_key DO UPDATE SET n = m.n + EXCLUDED.n;
END
$fn$;

CREATE OR REPLACE FUNCTION stats_heat_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_heat_put(OLD, -1, false);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM stats_heat_put(NEW, 1, false);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION stats_month_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_month_put(OLD, -1, false);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM stats_month_put(NEW, 1, false);
    END IF;
    RETURN NULL;
END
$fn$;

DROP FUNCTION stats_heat_add(tracking_citizenrequest, integer);
DROP FUNCTION stats_month_add(tracking_citizenrequest, integer);

-- A report shown, hidden, created visible or deleted visible: only its public counts move.
CREATE FUNCTION stats_public_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    req tracking_citizenrequest;
    delta integer := 0;
BEGIN
    IF TG_OP = 'INSERT' AND NOT NEW.is_hidden THEN
        delta := 1;
    ELSIF TG_OP = 'DELETE' AND NOT OLD.is_hidden THEN
        delta := -1;
    ELSIF TG_OP = 'UPDATE' AND OLD.is_hidden <> NEW.is_hidden THEN
        delta := CASE WHEN NEW.is_hidden THEN -1 ELSE 1 END;
    END IF;
    IF delta <> 0 THEN
        SELECT * INTO req FROM tracking_citizenrequest
        WHERE id = coalesce(NEW.citizenrequest_ptr_id, OLD.citizenrequest_ptr_id);
        IF FOUND THEN
            PERFORM stats_heat_put(req, delta, true);
            PERFORM stats_month_put(req, delta, true);
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER stats_public_insert_delete AFTER INSERT OR DELETE ON reports_report
    FOR EACH ROW EXECUTE FUNCTION stats_public_trigger();
CREATE TRIGGER stats_public_update AFTER UPDATE OF is_hidden ON reports_report
    FOR EACH ROW WHEN (OLD.is_hidden IS DISTINCT FROM NEW.is_hidden)
    EXECUTE FUNCTION stats_public_trigger();

CREATE OR REPLACE FUNCTION stats_heat_rebuild() RETURNS bigint LANGUAGE sql AS $fn$
    TRUNCATE stats_heatcell;
    INSERT INTO stats_heatcell (level, month, ix, iy, dim, value, n)
    SELECT l, date_trunc('month', c.created_at AT TIME ZONE 'Europe/Paris')::date,
           floor(ST_X(c.location) / (25.0 * 2 ^ l))::int,
           floor(ST_Y(c.location) / (25.0 * 2 ^ l))::int, d.dim, d.value, count(*)
    FROM tracking_citizenrequest c
    LEFT JOIN reports_report p ON p.citizenrequest_ptr_id = c.id AND NOT p.is_hidden
    CROSS JOIN generate_series(3, 7) AS l
    CROSS JOIN LATERAL (VALUES ('all', ''), ('category', coalesce(c.category_id::text, '')),
                               ('status', c.status),
                               ('service', coalesce(c.service_id::text, '')),
                               ('organisation', coalesce(c.organisation_id::text, '')),
                               ('public', '')) AS d(dim, value)
    WHERE c.location IS NOT NULL AND (d.dim <> 'public' OR p.citizenrequest_ptr_id IS NOT NULL)
    GROUP BY 1, 2, 3, 4, 5, 6;
    SELECT count(*) FROM stats_heatcell;
$fn$;

CREATE OR REPLACE FUNCTION stats_month_rebuild() RETURNS bigint LANGUAGE sql AS $fn$
    TRUNCATE stats_monthcount;
    INSERT INTO stats_monthcount (month, organisation_id, service_id, dim, value, n)
    SELECT date_trunc('month', c.created_at AT TIME ZONE 'Europe/Paris')::date,
           coalesce(c.organisation_id, 0), coalesce(c.service_id, 0), d.dim, d.value, count(*)
    FROM tracking_citizenrequest c
    LEFT JOIN reports_report p ON p.citizenrequest_ptr_id = c.id AND NOT p.is_hidden
    CROSS JOIN LATERAL (VALUES ('all', ''), ('status', c.status),
                               ('category', coalesce(c.category_id::text, '')),
                               ('commune', coalesce(c.commune_id::text, '')),
                               ('channel', c.channel),
                               ('public', coalesce(c.commune_id::text, ''))) AS d(dim, value)
    WHERE d.dim <> 'public' OR p.citizenrequest_ptr_id IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5;
    SELECT count(*) FROM stats_monthcount;
$fn$;

SELECT stats_heat_rebuild();
SELECT stats_month_rebuild();
"""

def _functions(module: str) -> str:
    """The CREATE FUNCTION statements of an earlier migration, as CREATE OR REPLACE."""
    sql = importlib.import_module(f"stats.migrations.{module}").SQL
    blocks = re.findall(r"CREATE FUNCTION .*?\$fn\$;", sql, flags=re.S)
    return "\n".join(b.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1) for b in blocks)


# Back to the functions of 0002 and 0004 exactly, without the public rows.
REVERSE = (
    """
DROP TRIGGER IF EXISTS stats_public_update ON reports_report;
DROP TRIGGER IF EXISTS stats_public_insert_delete ON reports_report;
DROP FUNCTION IF EXISTS stats_public_trigger();
"""
    + _functions("0002_heatcell_table_and_trigger")
    + _functions("0004_monthcount_table_and_trigger")
    + """
DROP FUNCTION IF EXISTS stats_heat_put(tracking_citizenrequest, integer, boolean);
DROP FUNCTION IF EXISTS stats_month_put(tracking_citizenrequest, integer, boolean);
DROP FUNCTION IF EXISTS stats_is_public(bigint);
DELETE FROM stats_heatcell WHERE dim = 'public';
DELETE FROM stats_monthcount WHERE dim = 'public';
"""
)


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0004_monthcount_table_and_trigger"),
        ("reports", "0003_moderation_pending"),
    ]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
