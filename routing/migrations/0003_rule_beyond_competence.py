from importlib import import_module

from django.db import migrations, models

# Rules are bound to where their target organisation is competent: routing_decide() now says
# whether each matching rule was written to reach beyond that (by the platform operator), and
# routing.selectors keeps the other rules for the decisions their organisation already holds.
BEFORE = import_module("routing.migrations.0002_routing_decide_function").FUNCTION
AFTER = BEFORE.replace(
    "s.organisation_id AS organisation_id\n",
    "s.organisation_id AS organisation_id, r.beyond_competence\n",
)
assert AFTER != BEFORE


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0002_routing_decide_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="routingrule",
            name="beyond_competence",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Réservé à l'opérateur de la plateforme. Sans cette case, la règle ne fait "
                    "qu'affiner l'aiguillage sur le territoire et dans les domaines où "
                    "l'organisation destinataire est compétente."
                ),
                verbose_name="au-delà des compétences de l'organisation destinataire",
            ),
        ),
        migrations.RunSQL(sql=AFTER, reverse_sql=BEFORE),
    ]
