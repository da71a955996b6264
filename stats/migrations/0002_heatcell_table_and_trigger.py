from django.db import migrations

# Cell size of a level: 25 m × 2^level, in Lambert-93. Levels 3 to 7 (200 m to 3.2 km, the
# zooms up to 14 that show large areas) are maintained; finer cells cover small viewports and
# are counted on the fly from the points (stats.selectors).
#
# One row per (level, month, cell, dimension, value): the dimension is "all" (every request),
# or one filter: "category", "status", "service", "organisation". A heatmap with no filter or
# one filter sums the rows of its dimension only: a few thousand for the whole CAHC.
SQL = """
CREATE TABLE stats_heatcell (
    id bigserial PRIMARY KEY,
    level smallint NOT NULL,
    month date NOT NULL,
    ix integer NOT NULL,
    iy integer NOT NULL,
    dim varchar(12) NOT NULL,
    value varchar(20) NOT NULL,
    n integer NOT NULL DEFAULT 0,
    CONSTRAINT heatcell_key UNIQUE (level, dim, month, ix, iy, value)
);

CREATE FUNCTION stats_heat_add(r tracking_citizenrequest, delta integer) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    lvl integer;
    size double precision;
    m date;
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
                     ('organisation', coalesce(r.organisation_id::text, ''))) AS d(dim, value)
        ON CONFLICT ON CONSTRAINT heatcell_key DO UPDATE SET n = h.n + EXCLUDED.n;
    END LOOP;
END
$fn$;

CREATE FUNCTION stats_heat_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_heat_add(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM stats_heat_add(NEW, 1);
    END IF;
    RETURN NULL;
END
$fn$;

-- Only the columns that place a request in the aggregates fire it on update.
CREATE TRIGGER stats_heat_insert_delete AFTER INSERT OR DELETE ON tracking_citizenrequest
    FOR EACH ROW EXECUTE FUNCTION stats_heat_trigger();
CREATE TRIGGER stats_heat_update AFTER UPDATE OF location, created_at, category_id, status,
    service_id, organisation_id ON tracking_citizenrequest
    FOR EACH ROW WHEN (OLD.location IS DISTINCT FROM NEW.location
        OR OLD.created_at IS DISTINCT FROM NEW.created_at
        OR OLD.category_id IS DISTINCT FROM NEW.category_id
        OR OLD.status IS DISTINCT FROM NEW.status
        OR OLD.service_id IS DISTINCT FROM NEW.service_id
        OR OLD.organisation_id IS DISTINCT FROM NEW.organisation_id)
    EXECUTE FUNCTION stats_heat_trigger();

-- Rebuild from scratch (after a bulk load with the triggers disabled, or to check them).
CREATE FUNCTION stats_heat_rebuild() RETURNS bigint LANGUAGE sql AS $fn$
    TRUNCATE stats_heatcell;
    INSERT INTO stats_heatcell (level, month, ix, iy, dim, value, n)
    SELECT l, date_trunc('month', c.created_at AT TIME ZONE 'Europe/Paris')::date,
           floor(ST_X(c.location) / (25.0 * 2 ^ l))::int,
           floor(ST_Y(c.location) / (25.0 * 2 ^ l))::int, d.dim, d.value, count(*)
    FROM tracking_citizenrequest c
    CROSS JOIN generate_series(3, 7) AS l
    CROSS JOIN LATERAL (VALUES ('all', ''), ('category', coalesce(c.category_id::text, '')),
                               ('status', c.status),
                               ('service', coalesce(c.service_id::text, '')),
                               ('organisation', coalesce(c.organisation_id::text, '')))
                       AS d(dim, value)
    WHERE c.location IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6;
    SELECT count(*) FROM stats_heatcell;
$fn$;

SELECT stats_heat_rebuild();  -- the requests already there
"""

REVERSE = """
DROP TRIGGER IF EXISTS stats_heat_update ON tracking_citizenrequest;
DROP TRIGGER IF EXISTS stats_heat_insert_delete ON tracking_citizenrequest;
DROP FUNCTION IF EXISTS stats_heat_rebuild();
DROP FUNCTION IF EXISTS stats_heat_trigger();
DROP FUNCTION IF EXISTS stats_heat_add(tracking_citizenrequest, integer);
DROP TABLE IF EXISTS stats_heatcell;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0001_heatcell_model"),
        ("tracking", "0003_banned_emails_moderation_events"),
    ]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
