from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations


class Migration(migrations.Migration):
    """A composite GiST index (layer_id, geom): per-layer bbox and tile queries on one index.

    The single-column index Django would create is disabled on the field (spatial_index=False).
    """

    dependencies = [("gis_layers", "0001_layer_catalogue_and_features")]

    operations = [
        BtreeGistExtension(),
        migrations.RunSQL(
            sql="CREATE INDEX feature_layer_geom_gist ON gis_layers_feature USING gist (layer_id, geom)",
            reverse_sql="DROP INDEX IF EXISTS feature_layer_geom_gist",
        ),
    ]
