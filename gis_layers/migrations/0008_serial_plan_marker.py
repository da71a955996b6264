from django.db import migrations


class Migration(migrations.Migration):
    """A marker that keeps a statement's plan serial: PostgreSQL plans no parallel workers for a
    statement calling a PARALLEL UNSAFE function (checked before inlining). A vector tile calls
    it, so that its features always reach ST_AsMVT in the same order without a sort and without
    a transaction of its own to SET LOCAL (gis_layers.selectors.tile_sql)."""

    dependencies = [("gis_layers", "0007_layer_tile_properties")]

    operations = [
        migrations.RunSQL(
            sql="""
                CREATE FUNCTION grc_serial_plan() RETURNS boolean
                LANGUAGE sql IMMUTABLE PARALLEL UNSAFE AS $$ SELECT true $$;
                COMMENT ON FUNCTION grc_serial_plan() IS
                    'Called by a statement whose plan must stay serial (no parallel workers).';
            """,
            reverse_sql="DROP FUNCTION grc_serial_plan();",
        )
    ]
