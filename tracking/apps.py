from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = _("Suivi des demandes")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
