"""Staff tools for routing: the simulator and the coverage check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import permissions
from core.maps import map_config
from routing.models import Category
from routing.selectors import coverage_gaps, route_for, rule_conflicts

from .forms import RoutingSimulationForm


def _staff(request: HttpRequest) -> None:
    if not permissions.can_access_intranet(request.user):
        raise PermissionDenied("Réservé aux agents des collectivités.")


@login_required
def simulator(request: HttpRequest) -> HttpResponse:
    """Choose a category and a point (click the map, or type the coordinates): see the decision."""
    _staff(request)
    form = RoutingSimulationForm(request.GET or None)
    decision = None
    if form.is_valid():
        decision = route_for(
            location=form.cleaned_data["point"],
            category=form.cleaned_data["category"],
            equipment_id=form.cleaned_data.get("equipment"),
            today=form.cleaned_data.get("date"),
        )
    return render(
        request,
        "intranet/routing_simulator.html",
        {
            "form": form,
            "decision": decision,
            "map_config": map_config(),
            "categories": Category.objects.select_related("domain").filter(is_active=True),
        },
    )


@login_required
def coverage(request: HttpRequest) -> HttpResponse:
    _staff(request)
    return render(
        request,
        "intranet/routing_coverage.html",
        {
            "gaps": coverage_gaps(),
            "conflicts": rule_conflicts(),
        },
    )
