"""The agents' intranet. For now: who I am, the services I work in, and their members."""

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import permissions
from accounts.models import ServiceMembership

from .access import staff_required


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    actor = permissions.actor_for(request.user)
    services = (
        permissions.services_visible_to(request.user)
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=ServiceMembership.objects.select_related("user").order_by(
                    "user__last_name"
                ),
            ),
            "domains",
        )
        .order_by("organisation__name", "-is_reception", "name")
    )
    rows = [
        {
            "service": s,
            "my_role": actor.service_roles.get(s.pk),
            "can_manage": permissions.can_manage_service(request.user, s),
        }
        for s in services
    ]
    return render(
        request,
        "intranet/home.html",
        {
            "actor": actor,
            "rows": rows,
            "administered": permissions.organisations_visible_to(request.user).filter(
                pk__in=actor.admin_organisations
            ),
        },
    )
