from django.db import migrations

# The aggregates follow the requests' rows through their row triggers (0002, 0004, 0005), which
# a TRUNCATE does not fire: emptying the requests (Django's flush after a transactional test, a
# reset) left counts of requests that no longer exist in every later heatmap and dashboard.
# A TRUNCATE of the requests now empties the aggregates too.
SQL = """
CREATE FUNCTION stats_truncate_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    TRUNCATE stats_heatcell, stats_monthcount;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER stats_truncate AFTER TRUNCATE ON tracking_citizenrequest
    FOR EACH STATEMENT EXECUTE FUNCTION stats_truncate_trigger();
"""

REVERSE = """
DROP TRIGGER IF EXISTS stats_truncate ON tracking_citizenrequest;
DROP FUNCTION IF EXISTS stats_truncate_trigger();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0006_public_heat_without_home_positions"),
    ]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
