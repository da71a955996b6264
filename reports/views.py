from django.http import Http404, HttpRequest, HttpResponse
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
