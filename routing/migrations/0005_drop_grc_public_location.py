from django.db import migrations

# Migration 0004 was first released with the SQL function grc_public_location, which every
# public query called; the public point is now a stored column (tracking.0005) and 0004 was
# edited to leave the function out. A database that applied the first 0004 still has it,
# unused: drop it there; elsewhere this does nothing.
SQL = "DROP FUNCTION IF EXISTS grc_public_location(geometry, text, float8);"


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0004_category_public_position"),
        ("tracking", "0005_public_location"),
    ]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
