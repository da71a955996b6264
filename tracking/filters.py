"""The filters of requests shared by the public map and list, the dashboards, the heatmaps and
the exports: period, problem, status, service, commune, channel. Read from query parameters
with a reason for each bad one (a ValidationError naming the parameter)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Channel, Status

FILTER_NAMES = ("since", "until", "category", "status", "service", "commune", "channel")


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of a local day (Europe/Paris)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass(frozen=True)
class RequestFilters:
    since: dt.date | None = None
    until: dt.date | None = None
    categories: tuple[str, ...] = ()  # slugs
    statuses: tuple[str, ...] = ()
    services: tuple[int, ...] = ()
    communes: tuple[str, ...] = ()  # INSEE codes
    channels: tuple[str, ...] = ()

    def bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The period as instants [start, end): local days, so that timestamp indexes serve."""
        return (
            day_start(self.since) if self.since else None,
            day_start(self.until + dt.timedelta(days=1)) if self.until else None,
        )

    def q(self) -> Q:
        q = Q()
        start, end = self.bounds()
        if start:
            q &= Q(created_at__gte=start)
        if end:
            q &= Q(created_at__lt=end)
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

    def as_query(self) -> str:
        """The query string that gives these filters back (links to exports, the map's API);
        an open start is written empty, which the dashboard reads as "all time"."""
        query = QueryDict(mutable=True)
        query["since"] = self.since.isoformat() if self.since else ""
        if self.until:
            query["until"] = self.until.isoformat()
        for name, values in (
            ("category", self.categories),
            ("status", self.statuses),
            ("service", self.services),
            ("commune", self.communes),
            ("channel", self.channels),
        ):
            if values:
                query[name] = ",".join(str(v) for v in values)
        return query.urlencode()


def _listed(params, name: str) -> tuple[str, ...]:
    values = [v.strip() for raw in params.getlist(name) for v in raw.split(",") if v.strip()]
    if len(values) > 50 or any(len(v) > 80 for v in values):
        raise ValidationError({name: _("Liste trop longue.")})
    return tuple(values)


def period_from(params, since_name: str = "since", until_name: str = "until"):
    """Two optional dates (AAAA-MM-JJ) from query parameters, the first not after the second."""
    dates = []
    for name in (since_name, until_name):
        raw = params.get(name, "")
        try:
            dates.append(dt.date.fromisoformat(raw) if raw else None)
        except ValueError:
            raise ValidationError({name: _("Une date AAAA-MM-JJ.")}) from None
    since, until = dates
    if since and until and since > until:
        raise ValidationError({since_name: _("Le début est après la fin.")})
    return since, until


def compare_from(params) -> tuple[dt.date, dt.date] | None:
    """The second period of a comparison (compare_since and compare_until, both or neither)."""
    since, until = period_from(params, "compare_since", "compare_until")
    if since is None and until is None:
        return None
    if since is None or until is None:
        raise ValidationError(
            {"compare_since": _("Une période de comparaison a un début et une fin.")}
        )
    return since, until


def filters_from(params, *, allowed=FILTER_NAMES) -> RequestFilters:
    """RequestFilters from a QueryDict; ValidationError naming the bad parameter. A filter that
    this page or API does not apply (not in ``allowed``) is refused rather than ignored."""
    for name in FILTER_NAMES:
        if name not in allowed and params.get(name):
            raise ValidationError({name: _("Ce filtre ne s'applique pas ici.")})
    since, until = period_from(params)
    statuses = _listed(params, "status")
    channels = _listed(params, "channel")
    services = _listed(params, "service")
    for name, values, known in (
        ("status", statuses, Status.values),
        ("channel", channels, Channel.values),
    ):
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValidationError(
                {
                    name: _("Inconnu : %(unknown)s (attendu : %(known)s).")
                    % {"unknown": ", ".join(unknown), "known": ", ".join(known)}
                }
            )
    if any(not s.isdigit() for s in services):
        raise ValidationError({"service": _("Des identifiants de service (nombres).")})
    return RequestFilters(
        since=since,
        until=until,
        categories=_listed(params, "category"),
        statuses=statuses,
        services=tuple(int(s) for s in services),
        communes=_listed(params, "commune"),
        channels=channels,
    )


def category_ids(filters: RequestFilters) -> list[int]:
    """The ids of the filters' problems; ValidationError if a slug is unknown."""
    from routing.models import Category

    if not filters.categories:
        return []
    found = dict(Category.objects.filter(slug__in=filters.categories).values_list("slug", "pk"))
    unknown = sorted(set(filters.categories) - set(found))
    if unknown:
        raise ValidationError(
            {"category": _("Problème inconnu : %(names)s.") % {"names": ", ".join(unknown)}}
        )
    return sorted(found.values())


def error_text(exc: ValidationError, labels: dict[str, str] | None = None) -> str:
    """One line for a page: each bad field named by its label."""
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    labels = labels or {}
    return " ".join(
        f"{labels.get(name, name)} : {' '.join(messages)}"
        for name, messages in exc.message_dict.items()
    )
