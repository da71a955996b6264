from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GisLayersConfig(AppConfig):
    name = "gis_layers"
    verbose_name = _("Couches SIG")
