from django.db import migrations

# Cell size of a level: 25 m × 2^level (level 0: 25 m … level 7: 3,200 m), in Lambert-93.
SQL = """
CREATE TABLE stats_heatcell (
    id bigserial PRIMARY KEY,
    level smallint NOT NULL,
    ix integer NOT NULL,
    iy integer NOT NULL,
    month date NOT NULL,
    category_id bigint,
    status varchar(20) NOT NULL,
    service_id bigint,
    organisation_id bigint,
    n integer NOT NULL DEFAULT 0,
    CONSTRAINT heatcell_key UNIQUE NULLS NOT DISTINCT
        (level, month, ix, iy, category_id, status, service_id, organisation_id)
);

CREATE FUNCTION stats_heat_add(r tracking_citizenrequest, delta integer) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    lvl integer;
    size double precision;
BEGIN
    IF r.location IS NULL THEN
        RETURN;
    END IF;
    FOR lvl IN 0..7 LOOP
        size := 25.0 * (2 ^ lvl);
        INSERT INTO stats_heatcell AS h
            (level, ix, iy, month, category_id, status, service_id, organisation_id, n)
        VALUES (lvl, floor(ST_X(r.location) / size)::int, floor(ST_Y(r.location) / size)::int,
                date_trunc('month', r.created_at AT TIME ZONE 'Europe/Paris')::date,
                r.category_id, r.status, r.service_id, r.organisation_id, delta)
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
    INSERT INTO stats_heatcell
        (level, ix, iy, month, category_id, status, service_id, organisation_id, n)
    SELECT l, floor(ST_X(location) / (25.0 * 2 ^ l))::int, floor(ST_Y(location) / (25.0 * 2 ^ l))::int,
           date_trunc('month', created_at AT TIME ZONE 'Europe/Paris')::date,
           category_id, status, service_id, organisation_id, count(*)
    FROM tracking_citizenrequest CROSS JOIN generate_series(0, 7) AS l
    WHERE location IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
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
    dependencies = [("stats", "0001_heatcell_model"), ("tracking", "0003_banned_emails_moderation_events")]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
