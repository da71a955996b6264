import re
from importlib import import_module

from django.db import migrations

# Migration 0006 (as released) decided a report's public cells from its category
# (stats_position_public). Now the stored public point decides (tracking.0005): the public heatmap
# counts no report without one (a category about a person's home), since a cell, however large,
# would place it more precisely than its commune (the public sees the commune only). Its "public"
# cells of stats_heatcell leave those reports out and follow a category whose position is made
# hidden or public again; the public counts per commune (stats_monthcount) keep them. The fine
# cells counted from the points leave them out in stats.selectors. 0005's functions, changed
# where the public point decides; 0006's trigger and helper replaced.
EARLIER = import_module("stats.migrations.0005_public_counts").SQL


def _function(name: str) -> str:
    """One function of 0005, as CREATE OR REPLACE."""
    block = re.search(rf"CREATE (?:OR REPLACE )?FUNCTION {name}\(.*?\$fn\$;", EARLIER, re.S)
    return re.sub(r"^CREATE (?:OR REPLACE )?", "CREATE OR REPLACE ", block.group(0))


def _replaced(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


HEAT_PUT = _function("stats_heat_put")
HEAT_REBUILD = _function("stats_heat_rebuild")

# The public cells only, from the requests (0005's rebuild redoes every dimension).
PUBLIC_CELLS = """
DELETE FROM stats_heatcell WHERE dim = 'public';
INSERT INTO stats_heatcell (level, month, ix, iy, dim, value, n)
SELECT l, date_trunc('month', c.created_at AT TIME ZONE 'Europe/Paris')::date,
       floor(ST_X(c.location) / (25.0 * 2 ^ l))::int,
       floor(ST_Y(c.location) / (25.0 * 2 ^ l))::int, 'public', '', count(*)
FROM tracking_citizenrequest c
JOIN reports_report p ON p.citizenrequest_ptr_id = c.id AND NOT p.is_hidden
CROSS JOIN generate_series(3, 7) AS l
WHERE c.public_location IS NOT NULL
GROUP BY 1, 2, 3, 4;
"""

SQL = (
    _replaced(
        HEAT_PUT,
        "public boolean := public_only OR stats_is_public(r.id);",
        "public boolean := (public_only OR stats_is_public(r.id))\n"
        "                      AND r.public_location IS NOT NULL;",
    )
    + _replaced(
        HEAT_REBUILD,
        "(d.dim <> 'public' OR p.citizenrequest_ptr_id IS NOT NULL)",
        "(d.dim <> 'public' OR (p.citizenrequest_ptr_id IS NOT NULL\n"
        "                                 AND c.public_location IS NOT NULL))",
    )
    + """
-- A category's position made hidden (or public again): its visible reports leave (or join)
-- the public cells, in one statement (the requests' own trigger fires only on the columns
-- that place them; tracking.0005 rewrites their public points).
CREATE OR REPLACE FUNCTION stats_category_position_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    delta integer := CASE WHEN NEW.public_position = 'hidden' THEN -1 ELSE 1 END;
BEGIN
    INSERT INTO stats_heatcell AS h (level, month, ix, iy, dim, value, n)
    SELECT l, date_trunc('month', c.created_at AT TIME ZONE 'Europe/Paris')::date,
           floor(ST_X(c.location) / (25.0 * 2 ^ l))::int,
           floor(ST_Y(c.location) / (25.0 * 2 ^ l))::int, 'public', '', delta * count(*)
    FROM tracking_citizenrequest c
    JOIN reports_report p ON p.citizenrequest_ptr_id = c.id AND NOT p.is_hidden
    CROSS JOIN generate_series(3, 7) AS l
    WHERE c.category_id = NEW.id AND c.location IS NOT NULL
    GROUP BY 1, 2, 3, 4
    ON CONFLICT ON CONSTRAINT heatcell_key DO UPDATE SET n = h.n + EXCLUDED.n;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER stats_category_position AFTER UPDATE OF public_position ON routing_category
    FOR EACH ROW
    WHEN ((OLD.public_position = 'hidden') IS DISTINCT FROM (NEW.public_position = 'hidden'))
    EXECUTE FUNCTION stats_category_position_trigger();
"""
    + "DROP FUNCTION IF EXISTS stats_position_public(bigint);\n"
    + PUBLIC_CELLS
)

# Back to 0006 as released.
RELEASED = import_module("stats.migrations.0006_public_heat_without_home_positions").SQL
REVERSE = RELEASED.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
    "CREATE TRIGGER", "CREATE OR REPLACE TRIGGER"
)


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0009_heatcell_viewport_key"),
        ("tracking", "0005_public_location"),
    ]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
