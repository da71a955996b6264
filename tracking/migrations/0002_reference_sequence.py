from django.db import migrations


class Migration(migrations.Migration):
    """One sequence numbers every request (S2026-000042, D2026-000043): short, unique, no gaps
    to fill, and no extra write after the insert to derive the number from the primary key."""

    dependencies = [("tracking", "0001_citizen_requests_timeline")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS tracking_reference_seq",
            reverse_sql="DROP SEQUENCE IF EXISTS tracking_reference_seq",
        )
    ]
