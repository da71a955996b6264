from django.db import migrations

# Maintained counts for the dashboards: one row per (month, organisation, service, dimension,
# value). The month is the request's creation month (Europe/Paris); the dimension is "all"
# (every request) or one of the dashboard's breakdowns: "status", "category", "commune",
# "channel" (the service is a key column, so "by service" and a service's own dashboard sum
# the same rows). A dashboard over whole months and a scope of organisations or services sums
# a few thousand rows per breakdown instead of counting every request. Kept exact by a trigger,
# like stats_heatcell (0002). Processing times stay computed from the requests (percentiles are
# exact); the open requests by age use the partial index of tracking.0004.
SQL = """
CREATE TABLE stats_monthcount (
    id bigserial PRIMARY KEY,
    month date NOT NULL,
    organisation_id integer NOT NULL,
    service_id integer NOT NULL,
    dim varchar(12) NOT NULL,
    value varchar(20) NOT NULL,
    n integer NOT NULL DEFAULT 0,
    CONSTRAINT monthcount_key UNIQUE (dim, month, organisation_id, service_id, value)
);

CREATE FUNCTION stats_month_add(r tracking_citizenrequest, delta integer) RETURNS void
LANGUAGE sql AS $fn$
    INSERT INTO stats_monthcount AS m (month, organisation_id, service_id, dim, value, n)
    SELECT date_trunc('month', r.created_at AT TIME ZONE 'Europe/Paris')::date,
           coalesce(r.organisation_id, 0), coalesce(r.service_id, 0), d.dim, d.value, delta
    FROM (VALUES ('all', ''), ('status', r.status),
                 ('category', coalesce(r.category_id::text, '')),
                 ('commune', coalesce(r.commune_id::text, '')),
                 ('channel', r.channel)) AS d(dim, value)
    ON CONFLICT ON CONSTRAINT monthcount_key DO UPDATE SET n = m.n + EXCLUDED.n;
$fn$;

CREATE FUNCTION stats_month_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_month_add(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM stats_month_add(NEW, 1);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER stats_month_insert_delete AFTER INSERT OR DELETE ON tracking_citizenrequest
    FOR EACH ROW EXECUTE FUNCTION stats_month_trigger();
CREATE TRIGGER stats_month_update AFTER UPDATE OF created_at, organisation_id, service_id,
    status, category_id, commune_id, channel ON tracking_citizenrequest
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
        OR OLD.organisation_id IS DISTINCT FROM NEW.organisation_id
        OR OLD.service_id IS DISTINCT FROM NEW.service_id
        OR OLD.status IS DISTINCT FROM NEW.status
        OR OLD.category_id IS DISTINCT FROM NEW.category_id
        OR OLD.commune_id IS DISTINCT FROM NEW.commune_id
        OR OLD.channel IS DISTINCT FROM NEW.channel)
    EXECUTE FUNCTION stats_month_trigger();

CREATE FUNCTION stats_month_rebuild() RETURNS bigint LANGUAGE sql AS $fn$
    TRUNCATE stats_monthcount;
    INSERT INTO stats_monthcount (month, organisation_id, service_id, dim, value, n)
    SELECT date_trunc('month', c.created_at AT TIME ZONE 'Europe/Paris')::date,
           coalesce(c.organisation_id, 0), coalesce(c.service_id, 0), d.dim, d.value, count(*)
    FROM tracking_citizenrequest c
    CROSS JOIN LATERAL (VALUES ('all', ''), ('status', c.status),
                               ('category', coalesce(c.category_id::text, '')),
                               ('commune', coalesce(c.commune_id::text, '')),
                               ('channel', c.channel)) AS d(dim, value)
    GROUP BY 1, 2, 3, 4, 5;
    SELECT count(*) FROM stats_monthcount;
$fn$;

SELECT stats_month_rebuild();
"""

REVERSE = """
DROP TRIGGER IF EXISTS stats_month_update ON tracking_citizenrequest;
DROP TRIGGER IF EXISTS stats_month_insert_delete ON tracking_citizenrequest;
DROP FUNCTION IF EXISTS stats_month_rebuild();
DROP FUNCTION IF EXISTS stats_month_trigger();
DROP FUNCTION IF EXISTS stats_month_add(tracking_citizenrequest, integer);
DROP TABLE IF EXISTS stats_monthcount;
"""


class Migration(migrations.Migration):
    dependencies = [("stats", "0003_monthcount_model")]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
