"""The filters shared by exports (and the dashboards to come): period, category, status,
service, commune, channel. Read from query parameters with a reason for each bad one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from tracking.models import Channel, Status


@dataclass(frozen=True)
class RequestFilters:
    since: dt.date | None = None
    until: dt.date | None = None
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    services: tuple[int, ...] = ()
    communes: tuple[str, ...] = ()  # INSEE codes
    channels: tuple[str, ...] = ()

    def q(self) -> Q:
        q = Q()
        # local days, as bounds on the timestamp itself so that its indexes serve
        if self.since:
            q &= Q(created_at__gte=_day_start(self.since))
        if self.until:
            q &= Q(created_at__lt=_day_start(self.until + dt.timedelta(days=1)))
        if self.categories:
            q &= Q(category__slug__in=self.categories)
        if self.statuses:
            q &= Q(status__in=self.statuses)
        if self.services:
            q &= Q(service_id__in=self.services)
        if self.communes:
            q &= Q(commune__insee__in=self.communes)
        if self.channels:
            q &= Q(channel__in=self.channels)
        return q


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _listed(params, name: str) -> tuple[str, ...]:
    values = [v.strip() for raw in params.getlist(name) for v in raw.split(",") if v.strip()]
    if len(values) > 50 or any(len(v) > 80 for v in values):
        raise ValidationError({name: "Liste trop longue."})
    return tuple(values)


def filters_from(params) -> RequestFilters:
    """RequestFilters from a QueryDict; ValidationError naming the bad parameter."""
    dates = {}
    for name in ("since", "until"):
        raw = params.get(name, "")
        try:
            dates[name] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ValidationError({name: "Une date AAAA-MM-JJ."}) from None
    if dates["since"] and dates["until"] and dates["since"] > dates["until"]:
        raise ValidationError({"since": "Le début est après la fin."})
    statuses = _listed(params, "status")
    channels = _listed(params, "channel")
    services = _listed(params, "service")
    for name, values, allowed in (
        ("status", statuses, Status.values),
        ("channel", channels, Channel.values),
    ):
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValidationError({name: f"Inconnu : {', '.join(unknown)}."})
    if any(not s.isdigit() for s in services):
        raise ValidationError({"service": "Des identifiants de service (nombres)."})
    return RequestFilters(
        since=dates["since"],
        until=dates["until"],
        categories=_listed(params, "category"),
        statuses=statuses,
        services=tuple(int(s) for s in services),
        communes=_listed(params, "commune"),
        channels=channels,
    )
