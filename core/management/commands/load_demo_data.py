from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from core.demo import DEMO_PASSWORD, demo_data_load


class Command(BaseCommand):
    help = "Load Libercourt demo data (services, one account per role). Refused when DEBUG is off."

    def handle(self, *args, **options):
        try:
            accounts = demo_data_load()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        width = max(len(a.email) for a in accounts)
        for a in accounts:
            self.stdout.write(f"  {a.email.ljust(width)}  {a.role} – {a.where}")
        from gis_layers.models import Layer

        layers = Layer.objects.filter(is_synthetic=True).order_by("name")
        self.stdout.write(
            "Synthetic equipment layers: "
            + ", ".join(f"{layer.slug} ({layer.feature_count})" for layer in layers)
        )
