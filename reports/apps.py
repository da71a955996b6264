from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Signalements")

    def ready(self) -> None:
        from gis_layers.collections import register

        from .ogc import reports_collection

        register(reports_collection())
