from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Socle du portail")

    def ready(self):
        from django.core.signals import request_finished, request_started

        from . import db

        # Connected after Django's close_old_connections, so they run after it.
        request_started.connect(db.bypass_recent_health_checks, dispatch_uid="grc-db-bypass")
        request_finished.connect(db.mark_connections_released, dispatch_uid="grc-db-released")
