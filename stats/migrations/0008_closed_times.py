from django.db import migrations

# The processing times of the closed requests, one narrow row each (its scope, problem, creation
# instant and days taken), kept by a trigger on the requests: the dashboard's exact percentiles
# read these narrow rows through index-only scans (by creation for short periods, by problem
# and duration for long ones, so the percentiles' sort finds them in order) instead of the
# requests' wide rows. Exact to the second, as the requests are: this is a copy
# of two columns, not an estimate.
SQL = """
CREATE TABLE stats_closedtime (
    request_id bigint PRIMARY KEY,
    created_at timestamptz NOT NULL,
    organisation_id integer NOT NULL,  -- 0: none
    service_id integer NOT NULL,  -- 0: none
    category_id integer,
    days double precision NOT NULL
);
-- Short periods read by creation; long ones read each problem's times (and all of them) in
-- order, so that the percentiles' own sort finds them sorted (index-only scans).
CREATE INDEX stats_closedtime_created ON stats_closedtime (created_at)
    INCLUDE (organisation_id, service_id, category_id, days);
CREATE INDEX stats_closedtime_category_days ON stats_closedtime (category_id, days)
    INCLUDE (created_at, organisation_id, service_id);
CREATE INDEX stats_closedtime_days ON stats_closedtime (days)
    INCLUDE (created_at, organisation_id, service_id, category_id);

CREATE FUNCTION stats_closed_sync() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM stats_closedtime WHERE request_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.closed_at IS NOT NULL THEN
        INSERT INTO stats_closedtime
        VALUES (NEW.id, NEW.created_at, coalesce(NEW.organisation_id, 0),
                coalesce(NEW.service_id, 0), NEW.category_id,
                date_part('epoch', NEW.closed_at - NEW.created_at) / 86400.0);
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER stats_closed_insert_delete AFTER INSERT OR DELETE ON tracking_citizenrequest
    FOR EACH ROW EXECUTE FUNCTION stats_closed_sync();
-- Only when a copied column changes (as stats.0002 and 0004): Django's save() sets every
-- column, and a closed request saved for anything else must not rewrite its row.
CREATE TRIGGER stats_closed_update
    AFTER UPDATE OF closed_at, created_at, organisation_id, service_id, category_id
    ON tracking_citizenrequest
    FOR EACH ROW WHEN (OLD.closed_at IS DISTINCT FROM NEW.closed_at
        OR OLD.created_at IS DISTINCT FROM NEW.created_at
        OR OLD.organisation_id IS DISTINCT FROM NEW.organisation_id
        OR OLD.service_id IS DISTINCT FROM NEW.service_id
        OR OLD.category_id IS DISTINCT FROM NEW.category_id)
    EXECUTE FUNCTION stats_closed_sync();

CREATE FUNCTION stats_closed_rebuild() RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    made bigint;
BEGIN
    TRUNCATE stats_closedtime;
    INSERT INTO stats_closedtime
    SELECT id, created_at, coalesce(organisation_id, 0), coalesce(service_id, 0), category_id,
           date_part('epoch', closed_at - created_at) / 86400.0
    FROM tracking_citizenrequest WHERE closed_at IS NOT NULL ORDER BY created_at;
    GET DIAGNOSTICS made = ROW_COUNT;
    RETURN made;
END
$fn$;
SELECT stats_closed_rebuild();

CREATE OR REPLACE FUNCTION stats_truncate_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    TRUNCATE stats_heatcell, stats_monthcount, stats_closedtime;
    RETURN NULL;
END
$fn$;
"""

REVERSE = """
CREATE OR REPLACE FUNCTION stats_truncate_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    TRUNCATE stats_heatcell, stats_monthcount;
    RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS stats_closed_update ON tracking_citizenrequest;
DROP TRIGGER IF EXISTS stats_closed_insert_delete ON tracking_citizenrequest;
DROP FUNCTION IF EXISTS stats_closed_rebuild();
DROP FUNCTION IF EXISTS stats_closed_sync();
DROP TABLE IF EXISTS stats_closedtime;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0007_aggregates_follow_truncate"),
    ]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
