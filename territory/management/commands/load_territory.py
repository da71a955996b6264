"""Load the reference data: the CAHC, its communes, neighbours, organisations, competences."""

from django.core.management.base import BaseCommand

from organisations.services import organisations_load
from territory.services import territory_load


class Command(BaseCommand):
    help = "Load (or update) the territory, organisations and default competences. Idempotent."

    def handle(self, *args, **options):
        result = territory_load()
        orgs = organisations_load(epci=result.epci)
        self.stdout.write(
            f"Territory: {result.epci} with {result.members} communes, {result.neighbours} "
            f"neighbouring communes ({result.created} created); "
            f"{orgs.organisations} organisations, {orgs.domains} domains, "
            f"{orgs.competences_created} competences created."
        )
