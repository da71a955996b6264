from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatsConfig(AppConfig):
    name = "stats"
    verbose_name = _("Statistiques et exports")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
