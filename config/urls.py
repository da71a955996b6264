from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.vary import vary_on_headers
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView

from accounts.api.views import me
from addresses.api.views import search as address_search
from core.views import favicon, healthz
from gis_layers.urls import layers_patterns, ogc_patterns, tiles_patterns
from organisations.api.views import OrganisationList
from reports.api.views import equipment as report_equipment
from reports.journey import report_new
from routing.api.views import preview as routing_preview
from stats.api.views import heatmap as stats_heatmap
from territory.api.views import communes

api_patterns = [
    path("addresses/", address_search, name="addresses"),
    path("stats/heatmap", stats_heatmap, name="stats-heatmap"),
    path("equipment/", report_equipment, name="equipment"),
    path("me/", me, name="me"),
    path("organisations/", OrganisationList.as_view(), name="organisations"),
    path("territory/communes/", communes, name="communes"),
    path("routing/preview", routing_preview, name="routing-preview"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that do not declare one (the admin's).
    path("favicon.ico", favicon),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "jsi18n/",
        # per language (the page's, from Accept-Language or the language cookie), a day
        vary_on_headers("Accept-Language", "Cookie")(
            cache_control(max_age=86400)(JavaScriptCatalog.as_view())
        ),
        name="javascript-catalog",
    ),
    path("admin/", admin.site.urls),
    path("api/layers/", include(layers_patterns)),
    path("api/reports/", include(("reports.api.urls", "reports-api"))),
    path("api/", include((api_patterns, "api"))),
    path("ogcapi/", include(ogc_patterns)),
    path("tiles/", include(tiles_patterns)),
    path("compte/", include("accounts.urls")),
    path("compte/", include("citizens.urls")),
    path("intranet/", include("intranet.urls")),
    path("signaler/", report_new, name="report-new"),
    path("statistiques/", include("stats.urls")),
    path("signalements/", include("reports.urls")),
    path("", include("core.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
