import importlib
import re

from django.db import migrations

# The public heatmap counts no report of a category whose position is not public (about a
# person's home, routing.Category.public_position "hidden"): a cell, however large, would place
# it more precisely than its commune (the public sees the commune only). Its "public" cells of
# stats_heatcell leave those reports out, and follow a category changing its public position;
# the public counts per commune (stats_monthcount) keep them. The fine cells counted from the
# points leave them out in stats.selectors.
SQL = """
CREATE FUNCTION stats_position_public(category bigint) RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT NOT EXISTS (SELECT 1 FROM routing_category k
                       WHERE k.id = category AND k.public_position = 'hidden');
$fn$;

CREATE OR REPLACE FUNCTION stats_heat_put(
    r tracking_citizenrequest, delta integer, public_only boolean
) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    lvl integer;
    size double precision;
    m date;
    public boolean := (public_only OR stats_is_public(r.id))
                      AND stats_position_public(r.category_id);
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

-- A category's position made hidden (or public again): its visible reports leave (or join)
-- the public cells, in one statement.
CREATE FUNCTION stats_category_position_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
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

CREATE TRIGGER stats_category_position AFTER UPDATE OF public_position ON routing_category
    FOR EACH ROW
    WHEN ((OLD.public_position = 'hidden') IS DISTINCT FROM (NEW.public_position = 'hidden'))
    EXECUTE FUNCTION stats_category_position_trigger();

CREATE OR REPLACE FUNCTION stats_heat_rebuild() RETURNS bigint LANGUAGE sql AS $fn$
    TRUNCATE stats_heatcell;
    INSERT INTO stats_heatcell (level, month, ix, iy, dim, value, n)
    SELECT l, date_trunc('month', c.created_at AT TIME ZONE 'Europe/Paris')::date,
           floor(ST_X(c.location) / (25.0 * 2 ^ l))::int,
           floor(ST_Y(c.location) / (25.0 * 2 ^ l))::int, d.dim, d.value, count(*)
    FROM tracking_citizenrequest c
    LEFT JOIN reports_report p ON p.citizenrequest_ptr_id = c.id AND NOT p.is_hidden
    LEFT JOIN routing_category k ON k.id = c.category_id
    CROSS JOIN generate_series(3, 7) AS l
    CROSS JOIN LATERAL (VALUES ('all', ''), ('category', coalesce(c.category_id::text, '')),
                               ('status', c.status),
                               ('service', coalesce(c.service_id::text, '')),
                               ('organisation', coalesce(c.organisation_id::text, '')),
                               ('public', '')) AS d(dim, value)
    WHERE c.location IS NOT NULL
      AND (d.dim <> 'public' OR (p.citizenrequest_ptr_id IS NOT NULL
                                 AND k.public_position IS DISTINCT FROM 'hidden'))
    GROUP BY 1, 2, 3, 4, 5, 6;
    SELECT count(*) FROM stats_heatcell;
$fn$;

SELECT stats_heat_rebuild();
"""


def _functions(module: str, names: tuple[str, ...]) -> str:
    """Some functions of an earlier migration, as CREATE OR REPLACE."""
    sql = importlib.import_module(f"stats.migrations.{module}").SQL
    blocks = []
    for name in names:
        block = re.search(rf"CREATE (?:OR REPLACE )?FUNCTION {name}\(.*?\$fn\$;", sql, re.S)
        blocks.append(re.sub(r"^CREATE (?:OR REPLACE )?", "CREATE OR REPLACE ", block.group(0)))
    return "\n".join(blocks)


# Back to the functions of 0005 exactly, hidden categories counted in the public cells again.
REVERSE = (
    """
DROP TRIGGER IF EXISTS stats_category_position ON routing_category;
DROP FUNCTION IF EXISTS stats_category_position_trigger();
"""
    + _functions("0005_public_counts", ("stats_heat_put", "stats_heat_rebuild"))
    + """
DROP FUNCTION IF EXISTS stats_position_public(bigint);
SELECT stats_heat_rebuild();
"""
)


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0005_public_counts"),
        ("routing", "0004_category_public_position"),
    ]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
