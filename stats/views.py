"""Export pages: staff exports with filters (personal columns where entitled) and the public
open-data export (anonymised)."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, transaction
from django.http import FileResponse, Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import condition

from accounts import permissions
from core.maps import map_config
from routing.models import Category
from tracking.filters import RequestFilters, compare_from, error_text, filters_from
from tracking.filters import category_ids as category_ids_of
from tracking.models import Channel, Status

from . import exports, selectors
from . import open_data as open_data_files

FORMATS = exports.CONTENT_TYPES


class ExportRefused(Exception):
    """An export that would not end in time: too many rows, or past its deadline."""


def _file(queryset, *, private, cols, fmt: str, stem: str) -> HttpResponse:
    """A staff export: CSV and GeoJSON streamed from a server-side cursor as they are written
    (constant memory), XLSX and GeoPackage written to a temporary file then sent from it. At
    most GRC_EXPORT_MAX_ROWS rows (files: GRC_EXPORT_FILE_MAX_ROWS), all of it within
    GRC_EXPORT_DEADLINE_S from now (each statement also within GRC_EXPORT_STATEMENT_TIMEOUT_S),
    else ExportRefused with the reason; a streamed export that passes the deadline once sent
    is cut off (exports.ExportTooLong), an incomplete download rather than a truncated file."""
    budget = settings.GRC_EXPORT_DEADLINE_S
    deadline = time.monotonic() + budget
    seconds = settings.GRC_EXPORT_STATEMENT_TIMEOUT_S
    streamed = fmt in exports.STREAMED
    cap = settings.GRC_EXPORT_MAX_ROWS if streamed else settings.GRC_EXPORT_FILE_MAX_ROWS
    try:
        with transaction.atomic():
            exports.statement_timeout(min(seconds, budget))
            count = queryset.count()
    except OperationalError:
        raise ExportRefused(_too_slow(budget)) from None
    if count > cap:
        values = {"count": _number(count), "max": _number(cap), "format": fmt.upper()}
        if count <= settings.GRC_EXPORT_MAX_ROWS:  # a streamed format would take them
            message = gettext(
                "L'export compte %(count)s demandes : au plus %(max)s au format %(format)s. "
                "Choisissez le format CSV ou resserrez les filtres (période, service, problème…)."
            )
        else:
            message = gettext(
                "L'export compte %(count)s demandes : au plus %(max)s au format %(format)s. "
                "Resserrez les filtres (période, service, problème…)."
            )
        raise ExportRefused(message % values)
    rows = exports.bounded(
        exports.export_rows(queryset, private=private), seconds=seconds, deadline=deadline
    )
    name = f"{stem}-{timezone.localdate():%Y-%m-%d}.{fmt}"
    if streamed:
        chunks = (
            exports.csv_chunks(rows, cols) if fmt == "csv" else exports.geojson_chunks(rows, cols)
        )
        response = StreamingHttpResponse(chunks, content_type=FORMATS[fmt])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        work = Path(tempfile.mkdtemp(prefix="grc-export-"))
        try:
            path = work / name
            exports.write_file(fmt, rows, cols, path)
            handle = path.open("rb")  # the open handle keeps the data once the file is gone
        except (OperationalError, exports.ExportTooLong):
            raise ExportRefused(_too_slow(budget)) from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        response = FileResponse(
            handle, content_type=FORMATS[fmt], as_attachment=True, filename=name
        )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _too_slow(seconds: int) -> str:
    return gettext(
        "L'export a dépassé %(seconds)s secondes : resserrez les filtres (période, service…)."
    ) % {"seconds": seconds}


def _number(n: int) -> str:
    return number_format(n, force_grouping=True)


@login_required
def export_page(request):
    """Filters and formats; the rows are the requests of the caller's organisations."""
    if not permissions.can_access_intranet(request.user):
        raise PermissionDenied(gettext("Réservé aux agents des collectivités."))
    error, filters = "", RequestFilters()
    try:
        filters = filters_from(request.GET)
    except ValidationError as exc:
        error = error_text(exc, FIELD_LABELS)
    fmt = request.GET.get("format", "")
    if fmt and not error:
        if fmt not in FORMATS:
            raise Http404
        q = permissions.requests_export_filter(request.user) & filters.q()
        try:
            return _file(
                exports.reports_for(q),
                private=permissions.requests_filter_for(request.user),
                cols=exports.columns(open_data=False),
                fmt=fmt,
                stem="demandes",
            )
        except ExportRefused as exc:
            error = str(exc)
    context = {
        "error": error,
        "filters": filters,
        "formats": list(FORMATS),
        **_filter_choices(request.user),
    }
    return render(request, "stats/exports.html", context)


# The form's labels, to name a bad field in the message above the form.
FIELD_LABELS = {
    "since": _("Du"),
    "until": _("Au"),
    "category": _("Problème"),
    "status": _("État"),
    "service": _("Service"),
    "channel": _("Canal"),
    "commune": _("Commune"),
    "compare_since": _("Comparer avec la période du"),
    "normalise": _("Carte de chaleur"),
}


def _filter_choices(user) -> dict:
    """The choices of the filter form shared by the dashboard and the exports."""
    return {
        "categories": Category.objects.filter(is_active=True).select_related("domain"),
        "statuses": Status.choices,
        "channels": Channel.choices,
        # the services of the caller's statistics scope: what the figures and exports count
        "services": permissions.stats_services(user).order_by("organisation__name", "name"),
    }


def _open_data_etag(request, fmt: str) -> str | None:
    built = open_data_files.current(fmt) if fmt in FORMATS else None
    return built.etag if built else None


def _open_data_modified(request, fmt: str):
    built = open_data_files.current(fmt) if fmt in FORMATS else None
    return built.built_at if built else None


@condition(etag_func=_open_data_etag, last_modified_func=_open_data_modified)
def open_data(request, fmt: str):
    """Every visible report, anonymised: no description, no contact, the public point
    (reports.positions). The file the worker built (stats/open_data.py), sent as it is with its
    ETag and Last-Modified (304 when unchanged); 503 with Retry-After before the first build."""
    if fmt not in FORMATS:
        raise Http404
    built = open_data_files.current(fmt)
    if built is None:
        open_data_files.request_build()
        response = HttpResponse(
            gettext(
                "Les fichiers des données ouvertes sont en préparation : réessayez dans "
                "quelques minutes."
            ),
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(settings.GRC_OPEN_DATA_RETRY_AFTER_S)
    else:
        response = FileResponse(
            built.path.open("rb"),
            content_type=FORMATS[fmt],
            as_attachment=True,
            filename=built.filename,
        )
        response["Cache-Control"] = "public, max-age=300"
        response["X-Content-Type-Options"] = "nosniff"
    response["Access-Control-Allow-Origin"] = "*"
    return response


BAR_HEIGHT = 24  # px per bar in a chart's SVG (label above the bar, value after it)


def _series(title: str, rows: list[tuple[str, int]], unit: str = "") -> dict:
    """A labelled bar chart and its table: each row is (label, n, bar width in % of the
    largest, y of the bar in the SVG)."""
    top = max((n for _, n in rows), default=0) or 1
    return {
        "title": title,
        "unit": unit,
        "height": BAR_HEIGHT * len(rows),
        "rows": [
            (str(label), n, round(75 * n / top, 1), BAR_HEIGHT * i)
            for i, (label, n) in enumerate(rows)
        ],
    }


def _overdue_url(organisations, filters: RequestFilters, category_ids) -> str:
    """The admin's list of the open requests past their due date, narrowed as the page is
    (the admin then shows those the caller handles)."""
    from django.urls import reverse

    from territory.models import Commune
    from tracking.models import OPEN_STATUSES

    query = QueryDict(mutable=True)
    # the open ones among the statuses chosen, as the figure counts them
    statuses = set(OPEN_STATUSES) & set(filters.statuses) if filters.statuses else OPEN_STATUSES
    query["status__in"] = ",".join(sorted(statuses))
    query["due_at__lt"] = timezone.localtime().replace(microsecond=0).isoformat()
    start, end = filters.bounds()
    if start:
        query["created_at__gte"] = start.isoformat()
    if end:
        query["created_at__lt"] = end.isoformat()
    if category_ids:
        query["category__id__in"] = ",".join(str(c) for c in category_ids)
    if filters.services:
        query["service__id__in"] = ",".join(str(s) for s in filters.services)
    if filters.channels:
        query["channel__in"] = ",".join(filters.channels)
    if filters.communes:
        ids = Commune.objects.filter(insee__in=filters.communes).values_list("pk", flat=True)
        query["commune__id__in"] = ",".join(str(c) for c in ids)
    if organisations is not None:
        query["organisation__id__in"] = ",".join(str(o) for o in sorted(organisations)) or "0"
    return f"{reverse('admin:reports_report_changelist')}?{query.urlencode()}"


def _active_filters(filters: RequestFilters) -> int:
    """How many filters narrow the page besides the period (said on the folded panel)."""
    return sum(
        bool(v)
        for v in (
            filters.categories,
            filters.statuses,
            filters.services,
            filters.communes,
            filters.channels,
        )
    )


HEAT_MODES = [
    ("", _("Nombre de demandes")),
    ("inhabitants", _("Demandes pour 1 000 habitants, par commune")),
    ("equipment", _("Demandes par équipement")),
]


def _heat_options(user, params, filters: RequestFilters, category_ids) -> tuple[dict, str]:
    """The heatmap's view and second period from the dashboard's form, and an error (the
    view falls back to plain counts, the table still shows them)."""
    mode = params.get("heat", "")
    options = {"mode": mode if mode in dict(HEAT_MODES) else "", "compare": None, "layers": ()}
    try:
        options["compare"] = compare_from(params)
        if options["mode"] == "equipment":
            options["layers"] = selectors.equipment_layers(user, category_ids)
    except ValidationError as exc:
        if "normalise" in exc.message_dict:
            options["mode"] = ""
        return options, error_text(exc, FIELD_LABELS)
    return options, ""


def _heat_query(filters: RequestFilters, options: dict) -> str:
    """The heatmap API's query string for these filters (it has no channel or commune)."""
    query = dataclasses.replace(filters, channels=(), communes=()).as_query()
    extra = QueryDict(mutable=True)
    if options["compare"]:
        extra["compare_since"], extra["compare_until"] = (d.isoformat() for d in options["compare"])
    if options["mode"]:
        extra["normalise"] = options["mode"]
    return "&".join(part for part in (query, extra.urlencode()) if part)


@login_required
def dashboard(request):
    """The figures of the caller's scope (``stats_organisations``: the organisations they work
    for, every request for the operator), with the export filters; each chart has its data
    table. The period is the last twelve months unless the form says otherwise (an empty
    "from" is all time); bad filters are named above the form and the default figures shown."""
    if not permissions.can_access_intranet(request.user):
        raise PermissionDenied(gettext("Réservé aux agents des collectivités."))
    error, filters, category_ids = "", RequestFilters(), []
    try:
        filters = filters_from(request.GET)
        category_ids = category_ids_of(filters)
    except ValidationError as exc:
        error, filters = error_text(exc, FIELD_LABELS), RequestFilters()
    if error or ("since" not in request.GET and "until" not in request.GET):
        filters = dataclasses.replace(
            filters, since=selectors.first_of_12_months(timezone.localdate())
        )
    heat, heat_error = _heat_options(request.user, request.GET, filters, category_ids)
    organisations = permissions.stats_organisations(request.user)
    figures = selectors.dashboard(organisations, filters=filters)
    context = {
        "error": error,
        "heat_error": heat_error,
        "filters": filters,
        "filters_query": filters.as_query(),
        "active_filters": _active_filters(filters),
        "filters_open": bool(error or heat_error),
        "d": figures,
        "overdue_url": _overdue_url(organisations, filters, category_ids),
        "charts": [
            _series(_("Demandes par état"), figures.by_status),
            _series(_("Demandes par mois (12 derniers mois)"), figures.by_month),
            _series(_("Demandes par problème"), figures.by_category),
            _series(_("Demandes par service"), figures.by_service),
            _series(_("Demandes par commune"), figures.by_commune),
            _series(_("Demandes par canal"), figures.by_channel),
            _series(_("Demandes ouvertes, par ancienneté"), figures.backlog),
        ],
        "per_equipment": selectors.requests_per_equipment(
            organisations, filters=filters, layers=heat["layers"]
        )
        if heat["layers"]
        else [],
        "heat": heat,
        "heat_modes": HEAT_MODES,
        "heat_query": _heat_query(filters, heat),
        "communes": selectors.commune_rates(
            filters=filters,
            audience=selectors.Audience(organisations, 1, public=False),
            category_ids=category_ids,
            compare=heat["compare"],
            equipment_layers=heat["layers"],
        ),
        "equipment_layer_names": selectors.layer_names(heat["layers"]),
        "map_config": map_config(),
        "assumptions": {
            "trip_km": selectors.TRIP_KM,
            "sheets": selectors.SHEETS_PER_REQUEST,
            "co2_g_per_km": selectors.CO2_G_PER_KM,
        },
        **_filter_choices(request.user),
    }
    return render(request, "stats/dashboard.html", context)


def public_statistics(request):
    """For everyone: a heatmap of the territory's requests and counts per commune, and the
    resolution rate and delays per commune and per problem, all without any figure under k
    (no single report can be singled out)."""
    from django.conf import settings

    k = settings.GRC_HEATMAP_K
    context = {
        "k": k,
        "communes": selectors.commune_rates(
            filters=RequestFilters(), audience=selectors.Audience(None, k, public=True)
        ),
        "rates": selectors.public_resolution_rates(k=k),
        "within_days": selectors.RESOLVED_WITHIN_DAYS,
        "map_config": map_config(),
    }
    return render(request, "stats/public.html", context)
