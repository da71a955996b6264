"""Staff tools for routing: the simulator and the coverage check."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.maps import map_config
from routing.models import Category
from routing.selectors import coverage_gaps, route_for, rule_conflicts, rules_without_effect

from .access import staff_required
from .forms import RoutingSimulationForm


@staff_required
def simulator(request: HttpRequest) -> HttpResponse:
    """Choose a category and a point (click the map, or type the coordinates): see the decision."""
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


@staff_required
def coverage(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "intranet/routing_coverage.html",
        {
            "gaps": coverage_gaps(),
            "conflicts": rule_conflicts(),
            "idle_rules": rules_without_effect(),
        },
    )
