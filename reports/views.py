from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


def report_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """The tracking page of a report: status, who handles it, public timeline."""
    report = selectors.report_by_reference(reference)
    if report is None:
        raise Http404
    page = selectors.report_page(report, user=request.user, access_key=request.GET.get("cle", ""))
    if page is None:
        raise Http404
    response = render(request, "reports/detail.html", {"page": page, "report": report})
    # The page may show personal data reached through a secret link: keep it out of caches and
    # out of the Referer sent to other sites.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def report_photo(request: HttpRequest, reference: str, name: str) -> FileResponse:
    """A report's photo or thumbnail, for whoever may see the report (and hidden photos only
    for those handling it), under its server-made name, with headers that forbid any other use
    than showing an image."""
    report = selectors.report_by_reference(reference)
    page = (
        selectors.report_page(report, user=request.user, access_key=request.GET.get("cle", ""))
        if report
        else None
    )
    photo = selectors.photo_by_name(report, name) if page else None
    if photo is None or (photo.is_hidden and not page.is_handler):
        raise Http404
    relative = photo.file if name == photo.name else photo.thumbnail
    path = settings.GRC_PHOTO_ROOT / relative
    if not path.is_file():
        raise Http404
    response = FileResponse(path.open("rb"), content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    public = not (report.is_hidden or photo.is_hidden)
    response["Cache-Control"] = "public, max-age=86400" if public else "private, no-store"
    return response


def report_list(request: HttpRequest) -> HttpResponse:
    """Public reports: a map and, with the same filters, a list (the non-map way)."""
    from rest_framework.exceptions import ValidationError as FilterError

    from core.maps import map_config
    from routing.models import Category
    from tracking.models import Status

    from .api.views import _map_filters

    try:
        filters = _map_filters(request.GET)
        error = ""
    except FilterError as exc:
        filters = selectors.MapFilters()
        reasons = exc.detail.values() if isinstance(exc.detail, dict) else [exc.detail]
        error = " ".join(" ".join(map(str, r)) if isinstance(r, list) else str(r) for r in reasons)
    context = {
        "reports": selectors.reports_public_list(filters),
        "filters": filters,
        "filter_error": error,
        "categories": Category.objects.filter(is_active=True).select_related("domain"),
        "statuses": Status.choices,
        "map_config": map_config(),
    }
    return render(request, "reports/list.html", context)
