"""Site shell pages: home, who-does-what, contacts directory, and the health probe."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import DatabaseError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts import permissions
from organisations.selectors import directory, who_does_what
from territory.models import Commune
from territory.selectors import member_communes

from .health import health_report
from .maps import map_config


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    communes = list(member_communes().order_by("name"))
    return render(request, "core/home.html", {"communes": communes, "map_config": map_config()})


@require_GET
def who_does_what_view(request: HttpRequest) -> HttpResponse:
    """Pick a commune (form, no map needed) and read which body handles each domain there."""
    communes = list(member_communes().order_by("name"))
    insee = request.GET.get("commune") or "62907"
    commune = next((c for c in communes if c.insee == insee), None)
    if commune is None:
        if Commune.objects.filter(insee=insee).exists():
            raise Http404("Cette commune ne fait pas partie du territoire de la CAHC.")
        raise Http404("Commune inconnue.")
    return render(
        request,
        "core/who_does_what.html",
        {"communes": communes, "commune": commune, "rows": who_does_what(commune)},
    )


@require_GET
def contacts(request: HttpRequest) -> HttpResponse:
    return render(request, "core/contacts.html", {"organisations": directory()})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that declare none (the admin's)."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


@never_cache
@require_GET
@vary_on_headers("Authorization", "Cookie")
def healthz(request: HttpRequest) -> JsonResponse:
    """Up or not (200 or 503) for anyone; what is down, why, versions and workers only for the
    staff that accounts.permissions allows, or monitoring sending ``Authorization: Bearer
    <HEALTHZ_TOKEN>`` (a wrong token reads what the public reads). ``?scope=web``: the
    database only, for the web container's own health check (see core.health)."""
    scope = "web" if request.GET.get("scope") == "web" else "all"
    healthy, report = health_report(scope=scope)
    if not _may_read_health_details(request):
        report = {"status": report["status"]}
    return JsonResponse(report, status=200 if healthy else 503)


def _may_read_health_details(request: HttpRequest) -> bool:
    expected = settings.GRC_HEALTHZ_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compared in constant time; a token is never read from the URL
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), expected.encode())
    ):
        return True
    try:
        return permissions.can_read_health_details(request.user)
    except DatabaseError:  # the session and roles live in the database, which may be down
        return False
