"""A category's extra questions (``Category.extra_questions``) and the answers to them.

A question is ``{"name", "label", "type", "choices", "required"}``: ``name`` a short
identifier (the key of the answer), ``label`` the question as the citizen reads it, ``type``
one of ``text`` (a line, at most 500 characters), ``choice`` (one of ``choices``) or
``boolean`` (yes or no). The shape maps onto the attributes of an Open311 GeoReport v2
service definition (code, description, datatype string / singlevaluelist, required, values).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

TYPES = ("text", "choice", "boolean")
TEXT_MAX = 500
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_YES = {"true", "1", "oui", "yes", "on"}
_NO = {"false", "0", "non", "no", "off"}


def questions_check(questions: Any) -> list[dict]:
    """The questions, normalised; ValidationError naming the first thing wrong."""
    if not isinstance(questions, list):
        raise ValidationError(_("Une liste de questions est attendue."))
    out: list[dict] = []
    for position, question in enumerate(questions, start=1):
        checked = _question_check(_("Question %(n)s") % {"n": position}, question)
        if any(q["name"] == checked["name"] for q in out):
            raise ValidationError(
                _("Question %(n)s : le nom « %(name)s » est pris.")
                % {"n": position, "name": checked["name"]}
            )
        out.append(checked)
    return out


def _question_check(where: str, question: Any) -> dict:
    if not isinstance(question, dict):
        raise ValidationError(_("%(where)s : un objet est attendu.") % {"where": where})
    unknown = set(question) - {"name", "label", "type", "choices", "required"}
    if unknown:
        raise ValidationError(
            _("%(where)s : clés inconnues (%(keys)s).")
            % {"where": where, "keys": ", ".join(sorted(unknown))}
        )
    name, label = question.get("name"), str(question.get("label") or "").strip()
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            _("%(where)s : « name » en minuscules, chiffres et _, commençant par une lettre.")
            % {"where": where}
        )
    if not label:
        raise ValidationError(_("%(where)s : le libellé (« label ») manque.") % {"where": where})
    kind, required = question.get("type"), question.get("required", False)
    if kind not in TYPES:
        raise ValidationError(
            _("%(where)s : « type » vaut text, choice ou boolean.") % {"where": where}
        )
    if not isinstance(required, bool):
        raise ValidationError(_("%(where)s : « required » vaut true ou false.") % {"where": where})
    checked = {"name": name, "label": label, "type": kind, "required": required}
    choices = question.get("choices")
    if kind != "choice":
        if choices is not None:
            raise ValidationError(
                _("%(where)s : « choices » ne va qu'avec le type choice.") % {"where": where}
            )
        return checked
    if (
        not isinstance(choices, list)
        or len(choices) < 2
        or not all(isinstance(c, str) and c.strip() for c in choices)
        or len({c.strip() for c in choices}) != len(choices)
    ):
        raise ValidationError(
            _("%(where)s : au moins deux choix distincts (« choices »).") % {"where": where}
        )
    return checked | {"choices": [c.strip() for c in choices]}


def answers_clean(questions: list[dict], answers: Any) -> dict:
    """The answers to these questions, typed (text stripped, choice one of the choices,
    boolean True/False); unanswered optional questions are left out. ValidationError on
    ``answers`` listing every problem, each named by its question."""
    if answers in (None, ""):
        answers = {}
    if not isinstance(answers, dict):
        raise ValidationError({"answers": _("Les réponses forment un objet {question: réponse}.")})
    by_name = {q["name"]: q for q in questions}
    problems = [
        _("Question inconnue : %(name)s.") % {"name": name}
        for name in sorted(set(answers) - set(by_name))
    ]
    out: dict[str, Any] = {}
    for question in questions:
        raw = answers.get(question["name"])
        if isinstance(raw, str):
            raw = raw.strip()
        if raw in (None, ""):
            if question["required"]:
                problems.append(
                    _("Répondez à la question « %(label)s ».") % {"label": question["label"]}
                )
            continue
        value = _typed(question, raw)
        if value is None:
            problems.append(_expected(question))
        else:
            out[question["name"]] = value
    if problems:
        raise ValidationError({"answers": problems})
    return out


def _typed(question: dict, raw: Any) -> str | bool | None:
    kind = question["type"]
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).lower()
        return True if text in _YES else False if text in _NO else None
    if not isinstance(raw, str):
        return None
    if kind == "choice":
        return raw if raw in question["choices"] else None
    return raw if len(raw) <= TEXT_MAX else None


def _expected(question: dict) -> str:
    label = question["label"]
    if question["type"] == "boolean":
        return _("« %(label)s » : répondez oui ou non.") % {"label": label}
    if question["type"] == "choice":
        return _("« %(label)s » : choisissez parmi %(choices)s.") % {
            "label": label,
            "choices": ", ".join(question["choices"]),
        }
    return _("« %(label)s » : au plus %(n)s caractères.") % {"label": label, "n": TEXT_MAX}


def answers_display(questions: list[dict], answers: dict) -> list[tuple[str, str]]:
    """(question, answer) pairs to show, in the category's order; an answer to a question
    since removed is shown under its name, last."""
    labels = {q["name"]: q["label"] for q in questions}
    order = {q["name"]: i for i, q in enumerate(questions)}

    def text(value: Any) -> str:
        return (_("oui") if value else _("non")) if isinstance(value, bool) else str(value)

    names = sorted(answers, key=lambda name: order.get(name, len(order)))
    return [(labels.get(name, name), text(answers[name])) for name in names]
