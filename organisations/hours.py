"""Opening hours: a small structured format, validated, and said in plain French.

Stored as a list of ``{"day": 0-6, "opens": "HH:MM", "closes": "HH:MM"}`` (0 = Monday), one entry
per opening slot, so that the acknowledgement of receipt can quote them and pages can tell whether
a desk is open now.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from itertools import pairwise

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DAY_NAMES = [
    gettext_lazy("lundi"),
    gettext_lazy("mardi"),
    gettext_lazy("mercredi"),
    gettext_lazy("jeudi"),
    gettext_lazy("vendredi"),
    gettext_lazy("samedi"),
    gettext_lazy("dimanche"),
]


def _minutes(value: str) -> int:
    match = _TIME.match(value)
    if not match:
        raise ValidationError(
            _("Heure invalide « %(value)s » : attendu HH:MM."), params={"value": value}
        )
    return int(match.group(1)) * 60 + int(match.group(2))


def validate_opening_hours(value: object) -> None:
    """Reject anything but a list of well-formed, non-overlapping slots."""
    if not isinstance(value, list):
        raise ValidationError(_("Les horaires doivent être une liste de créneaux."))
    per_day: dict[int, list[tuple[int, int]]] = {}
    for slot in value:
        if not isinstance(slot, dict) or set(slot) != {"day", "opens", "closes"}:
            raise ValidationError(_("Chaque créneau a exactement les clés day, opens et closes."))
        day = slot["day"]
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise ValidationError(_("Le jour d'un créneau va de 0 (lundi) à 6 (dimanche)."))
        opens, closes = _minutes(str(slot["opens"])), _minutes(str(slot["closes"]))
        if closes <= opens:
            raise ValidationError(
                _("Le créneau du %(day)s ferme avant d'ouvrir."), params={"day": DAY_NAMES[day]}
            )
        per_day.setdefault(day, []).append((opens, closes))
    for day, slots in per_day.items():
        slots.sort()
        for (_o1, c1), (o2, _c2) in pairwise(slots):
            if o2 < c1:
                raise ValidationError(
                    _("Deux créneaux du %(day)s se chevauchent."), params={"day": DAY_NAMES[day]}
                )


def _say_time(value: str) -> str:
    hours, minutes = value.split(":")
    return f"{int(hours)} h {minutes}" if minutes != "00" else f"{int(hours)} h"


def _say_days(days: list[int]) -> str:
    if len(days) == 1:
        return str(DAY_NAMES[days[0]])
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return _("du %(first)s au %(last)s") % {
            "first": DAY_NAMES[days[0]],
            "last": DAY_NAMES[days[-1]],
        }
    return (
        ", ".join(str(DAY_NAMES[d]) for d in days[:-1])
        + " "
        + _("et")
        + " "
        + str(DAY_NAMES[days[-1]])
    )


def describe_opening_hours(slots: Iterable[dict]) -> str:
    """Opening hours as one French sentence, days with the same slots grouped.

    >>> describe_opening_hours([{"day": d, "opens": "08:30", "closes": "12:00"} for d in range(5)])
    'du lundi au vendredi : 8 h 30 – 12 h'
    """
    by_day: dict[int, list[tuple[str, str]]] = {}
    for slot in slots:
        by_day.setdefault(slot["day"], []).append((slot["opens"], slot["closes"]))
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for day in sorted(by_day):
        groups.setdefault(tuple(sorted(by_day[day])), []).append(day)
    parts = []
    for ranges, days in groups.items():
        said = ", ".join(f"{_say_time(o)} – {_say_time(c)}" for o, c in ranges)
        parts.append(f"{_say_days(days)} : {said}")
    return " ; ".join(parts)


def is_open_at(slots: Iterable[dict], moment: dt.datetime) -> bool:
    """Whether ``moment`` (an aware local datetime) falls inside one of the slots."""
    minute = moment.hour * 60 + moment.minute
    return any(
        s["day"] == moment.weekday() and _minutes(s["opens"]) <= minute < _minutes(s["closes"])
        for s in slots
    )
