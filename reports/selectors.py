"""Reads on reports: the public page of one report, with what each reader may see."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from accounts import permissions
from tracking.models import Event

from .models import Report


@dataclass(frozen=True)
class ReportView:
    report: Report
    events: list[Event]
    may_see_private: bool  # contact details, internal notes (the handling agents, the author)
    is_handler: bool


def report_by_reference(reference: str) -> Report | None:
    return (
        Report.objects.select_related(
            "category", "category__domain", "service", "service__organisation", "commune"
        )
        .filter(reference=reference)
        .first()
    )


def report_page(report: Report, *, user: Any, access_key: str = "") -> ReportView | None:
    """What a reader sees of a report; None when they may not see it at all (hidden report).

    Everybody sees the public part (status, category, place, public timeline); the tracking
    link's key or being the author shows the contact details given; agents handling it see all.
    """
    is_handler = permissions.can_act_on_request(user, report)
    has_key = bool(access_key) and hmac.compare_digest(access_key, report.access_key)
    may_see_private = has_key or permissions.can_view_request_private(user, report)
    if report.is_hidden and not may_see_private:
        return None
    events: QuerySet[Event] = report.events.select_related("service_after__organisation")
    if not is_handler:
        events = events.filter(is_public=True)
    return ReportView(
        report=report, events=list(events), may_see_private=may_see_private, is_handler=is_handler
    )


def reports_of(user: Any, *, limit: int = 200) -> list[Report]:
    """A citizen's own reports (as author), newest first, with their timelines."""
    return list(
        Report.objects.filter(author=user)
        .select_related("category", "service__organisation", "commune", "author")
        .prefetch_related("events")
        .order_by("-created_at")[:limit]
    )
