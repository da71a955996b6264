from django.db import migrations

# The maintained cells were keyed (level, dim, month, ix, iy, value): a viewport over all months
# could bound the index on level and dim only and read every cell of the territory (a heatmap of
# a few streets at zoom 13-17 read ~8,000 pages). Keyed (level, dim, value, ix, iy, month), a
# viewport reads its own cells only: one descent per column of cells (ix = ANY), the rows range
# of that column (iy BETWEEN), their months. Same columns, same name: the triggers' ON CONFLICT
# ON CONSTRAINT heatcell_key is unchanged. The count is included: an index-only scan (the cells
# of a viewport over ten years are ~80,000 rows, too many to fetch one by one from the table).
SQL = """
ALTER TABLE stats_heatcell DROP CONSTRAINT heatcell_key,
    ADD CONSTRAINT heatcell_key UNIQUE (level, dim, value, ix, iy, month) INCLUDE (n);
"""

REVERSE = """
ALTER TABLE stats_heatcell DROP CONSTRAINT heatcell_key,
    ADD CONSTRAINT heatcell_key UNIQUE (level, dim, month, ix, iy, value);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0008_closed_times"),
    ]

    operations = [migrations.RunSQL(SQL, reverse_sql=REVERSE)]
