"""Export pages: staff exports with filters (personal columns where entitled) and the public
open-data export (anonymised)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts import permissions
from routing.models import Category
from tracking.models import Channel, Status

from . import exports, selectors
from .filters import RequestFilters, filters_from

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}


def _file(rows, cols, fmt: str, stem: str) -> HttpResponse:
    name = f"{stem}-{timezone.localdate():%Y-%m-%d}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(exports.csv_chunks(rows, cols), content_type=FORMATS[fmt])
    elif fmt == "xlsx":
        response = HttpResponse(exports.xlsx_bytes(rows, cols), content_type=FORMATS[fmt])
    elif fmt == "geojson":
        response = StreamingHttpResponse(
            exports.geojson_chunks(rows, cols), content_type=FORMATS[fmt]
        )
    else:
        path = exports.gpkg_path(rows, cols)
        response = FileResponse(path.open("rb"), content_type=FORMATS[fmt])
        path.unlink()  # the open handle keeps the data until it is sent
        path.parent.rmdir()
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def export_page(request):
    """Filters and formats; the rows are the requests of the caller's organisations."""
    if not permissions.can_access_intranet(request.user):
        raise PermissionDenied("Réservé aux agents des collectivités.")
    error, filters = "", RequestFilters()
    try:
        filters = filters_from(request.GET)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    fmt = request.GET.get("format", "")
    if fmt and not error:
        if fmt not in FORMATS:
            raise Http404
        q = permissions.requests_export_filter(request.user) & filters.q()
        rows = exports.export_rows(
            exports.reports_for(q), private=permissions.requests_filter_for(request.user)
        )
        return _file(rows, exports.columns(open_data=False), fmt, "demandes")
    context = {
        "error": error,
        "filters": filters,
        "categories": Category.objects.filter(is_active=True).select_related("domain"),
        "statuses": Status.choices,
        "channels": Channel.choices,
        "services": permissions.services_visible_to(request.user).order_by(
            "organisation__name", "name"
        ),
        "formats": list(FORMATS),
    }
    return render(request, "stats/exports.html", context)


def open_data(request, fmt: str):
    """Every visible report, anonymised: no description, no contact, position to ~100 m."""
    if fmt not in FORMATS:
        raise Http404
    rows = exports.export_rows(exports.reports_for_open_data(), private=None, open_data=True)
    response = _file(rows, exports.columns(open_data=True), fmt, "signalements-libercourt-cahc")
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _series(title: str, rows: list[tuple[str, int]]) -> dict:
    top = max((n for _, n in rows), default=0) or 1
    return {"title": title, "rows": [(label, n, round(100 * n / top, 1)) for label, n in rows]}


@login_required
def dashboard(request):
    """The figures of the caller's scope (service, organisation, or the whole CAHC for the
    agglomeration's staff), with the export filters; each chart has its data table."""
    if not permissions.can_access_intranet(request.user):
        raise PermissionDenied("Réservé aux agents des collectivités.")
    error, filters = "", RequestFilters()
    try:
        filters = filters_from(request.GET)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    figures = selectors.dashboard(permissions.stats_organisations(request.user), filters=filters)
    context = {
        "error": error,
        "filters": filters,
        "d": figures,
        "charts": [
            _series("Par état", figures.by_status),
            _series("Par mois (12 derniers mois)", figures.by_month),
            _series("Par problème", figures.by_category),
            _series("Par service", figures.by_service),
            _series("Par commune", figures.by_commune),
            _series("Par canal", figures.by_channel),
            _series("Demandes ouvertes, par ancienneté", figures.backlog),
        ],
        "assumptions": selectors,
        "categories": Category.objects.filter(is_active=True).select_related("domain"),
        "statuses": Status.choices,
        "channels": Channel.choices,
        "services": permissions.services_visible_to(request.user).order_by(
            "organisation__name", "name"
        ),
    }
    return render(request, "stats/dashboard.html", context)


def public_statistics(request):
    """For everyone: a heatmap of the territory's requests and counts per commune, both
    without any figure under k (no single report can be singled out)."""
    from django.conf import settings

    from core.maps import map_config

    k = settings.GRC_HEATMAP_K
    context = {
        "k": k,
        "communes": selectors.public_commune_counts(k=k),
        "map_config": map_config(),
    }
    return render(request, "stats/public.html", context)
