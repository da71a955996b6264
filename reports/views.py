from django.conf import settings
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
)
from django.shortcuts import render

from . import selectors
from .updates import conversation_context


def report_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """The tracking page of a report: status, who handles it, photos, public timeline.

    ``?fragment=1`` answers only the part that changes (status, photos, timeline), with an ETag:
    the page polls it with If-None-Match and swaps it in, so it updates without reloading when
    an agent acts (a 304 costs one small query).
    """
    report = selectors.report_by_reference(reference)
    key = request.GET.get("cle", "")
    access = selectors.report_access(report, user=request.user, access_key=key) if report else None
    if access is None:
        raise Http404
    may_see_private, is_handler = access
    view = "handler" if is_handler else ("private" if may_see_private else "public")
    version = selectors.report_version(report, view=view)
    fragment = request.GET.get("fragment") == "1"
    if fragment and version in headers_if_none_match(request):
        return _private(HttpResponseNotModified(headers={"ETag": version}))
    if fragment:
        page = selectors.report_page(report, user=request.user, access_key=key)
        context = {"page": page, "report": report, "version": version}
        response = render(request, "reports/_live.html", context)
        response["ETag"] = version
        return _private(response)
    return render_detail(request, report, key, version=version)


def render_detail(
    request: HttpRequest,
    report,
    key: str,
    *,
    version: str = "",
    bound: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    """The whole tracking page; ``bound``: the citizen's form posted with its errors
    (reports.updates)."""
    access = selectors.report_access(report, user=request.user, access_key=key)
    view = "handler" if access[1] else ("private" if access[0] else "public")
    version = version or selectors.report_version(report, view=view)
    context = {
        "page": selectors.report_page(report, user=request.user, access_key=key),
        "report": report,
        "version": version,
        "poll_seconds": settings.GRC_LIVE_POLL_SECONDS,
        "conversation": conversation_context(request, report, key=key, bound=bound),
    }
    response = render(request, "reports/detail.html", context, status=status)
    response["ETag"] = version
    return _private(response)


def headers_if_none_match(request: HttpRequest) -> list[str]:
    return [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]


def _private(response: HttpResponse) -> HttpResponse:
    # The page may show personal data reached through a secret link: keep it out of shared
    # caches and out of the Referer sent to other sites (the page revalidates by ETag itself).
    # "same-origin", not "no-referrer": with the latter a browser posts the page's own forms
    # (the citizen's updates) with "Origin: null", which the CSRF check rightly refuses.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


def report_photo(request: HttpRequest, reference: str, name: str) -> FileResponse:
    """A report's photo or thumbnail, for whoever may see the report (and hidden photos only
    for those handling it), under its server-made name, with headers that forbid any other use
    than showing an image."""
    report = selectors.report_by_reference(reference)
    key = request.GET.get("cle", "")
    access = selectors.report_access(report, user=request.user, access_key=key) if report else None
    photo = selectors.photo_by_name(report, name) if access else None
    if photo is None or (photo.is_hidden and not access[1]):  # hidden photos: handlers only
        raise Http404
    if not selectors.shows_place(report, may_see_private=access[0]):  # a home: not public
        raise Http404
    relative = photo.file if name == photo.name else photo.thumbnail
    path = settings.GRC_PHOTO_ROOT / relative
    if not path.is_file():
        raise Http404
    response = FileResponse(path.open("rb"), content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    # Shared caches keep a public photo five minutes only: one hidden later (a face, a plate)
    # must not stay served for a day.
    public = not (report.is_hidden or photo.is_hidden) and selectors.shows_place(
        report, may_see_private=False
    )
    response["Cache-Control"] = "public, max-age=300" if public else "private, no-store"
    return response


def report_list(request: HttpRequest) -> HttpResponse:
    """Public reports: a map and, with the same filters, a list paged by the server (the
    non-map way; ``?page=N``, the page links keep the filters)."""
    from django.core.exceptions import ValidationError

    from core.maps import map_config, status_legend
    from routing.models import Category
    from tracking.filters import RequestFilters, error_text
    from tracking.models import Status

    from .filters import map_filters

    try:
        filters = map_filters(request.GET)
        error = ""
    except ValidationError as exc:
        filters = RequestFilters()
        error = error_text(
            exc,
            {"since": "Depuis le", "until": "Jusqu'au", "category": "Problème", "status": "État"},
        )
    page = selectors.reports_public_page(filters, request.GET.get("page"))
    legend = status_legend()
    shapes = {s["value"]: s for s in legend}
    reports = list(page.object_list)
    for report in reports:  # each line shows its status's shape, as on the map
        report.legend = shapes.get(report.status)
    context = {
        "page": page,
        "reports": reports,
        "page_links": page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1),
        "filters": filters,
        "filters_open": bool(error),  # on a phone the panel is folded, unless it has an error
        "filters_active": len(filters.categories)
        + len(filters.statuses)
        + bool(filters.since)
        + bool(filters.until),
        "legend": legend,
        "filter_error": error,
        "categories": Category.objects.filter(is_active=True).select_related("domain"),
        "statuses": Status.choices,
        "map_config": map_config(),
    }
    return render(request, "reports/list.html", context)
