"""Agents act on reports from the admin until their workspace exists: every action calls the
same services the workspace will (tracking.services, reports.services)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from leaflet.admin import LeafletGeoAdmin

from accounts import permissions
from core.admin import PermissionModuleAdminMixin
from routing.questions import answers_display
from tracking import services as tracking

from . import services
from .forms import (
    EditDescriptionForm,
    MergeForm,
    ModerateForm,
    NoteForm,
    ReplyForm,
    ReportCorrectionForm,
    StatusForm,
    TransferForm,
    add_service_errors,
)
from .models import Report

ACTIONS = {
    "transfer": (_("Transférer"), TransferForm),
    "status": (_("Changer l'état"), StatusForm),
    "reply": (_("Répondre au demandeur"), ReplyForm),
    "note": (_("Ajouter une note interne"), NoteForm),
    "moderate": (_("Modérer"), ModerateForm),
    "edit": (_("Corriger la description"), EditDescriptionForm),
    "merge": (_("Fusionner avec un autre signalement (doublon)"), MergeForm),
}


@admin.register(Report)
class ReportAdmin(PermissionModuleAdminMixin, LeafletGeoAdmin):
    change_form_template = "admin/reports/report/change_form.html"
    form = ReportCorrectionForm
    list_display = ["reference", "category", "status", "service", "commune", "created_at", "due_at"]
    list_filter = [
        "moderation_pending",
        "status",
        "category__domain",
        "service__organisation",
        "service",
        "is_hidden",
    ]
    search_fields = ["reference", "description", "equipment_label", "address_label"]
    date_hierarchy = "created_at"
    list_select_related = ["category", "service__organisation", "commune"]  # Service.__str__
    fields = [
        "reference",
        "status",
        "status_reason",
        "category",
        "location",
        "address_label",
        "equipment_label",
        "description",
        "answers_given",
        "service",
        "organisation",
        "commune",
        "routing_rule",
        "channel",
        "author",
        "contact_name",
        "contact_email",
        "contact_phone",
        "created_at",
        "due_at",
        "closed_at",
        "timeline",
    ]
    readonly_fields = [f for f in fields if f not in ("category", "location")]

    @admin.display(description=_("Réponses aux questions"))
    def answers_given(self, obj: Report):
        pairs = answers_display(obj.category.extra_questions, obj.answers)
        return format_html_join(mark_safe("<br>"), "{} : {}", pairs) or "—"

    @admin.display(description=_("Historique et aiguillage"))
    def timeline(self, obj: Report):
        """The same timeline as the tracking page, with internal notes and routing traces."""
        events = obj.events.select_related("service_after").order_by("at", "pk")
        return render_to_string("tracking/timeline.html", {"events": events, "show_internal": True})

    def save_model(self, request, obj, form, change):
        """Correcting the category or the place re-routes the report (reports.services)."""
        changed = set(form.changed_data) & {"category", "location"}
        if not changed:
            return
        try:
            event = services.report_change(
                obj,
                actor=request.user,
                category=form.cleaned_data.get("category") if "category" in changed else None,
                location=form.cleaned_data.get("location") if "location" in changed else None,
                equipment_id=None,
            )
        except ValidationError as exc:
            # The form checked the correction (ReportCorrectionForm); only a geometry re-serialised
            # by the widget ("nothing changed") or a rule edited meanwhile lands here.
            if hasattr(exc, "error_dict"):
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, event.message or _("Correction enregistrée."), messages.SUCCESS)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/agir/<slug:action>/",
                self.admin_site.admin_view(self.act_view),
                name="reports_report_act",
            )
        ]
        return own + super().get_urls()

    def act_view(self, request, pk: int, action: str):
        if action not in ACTIONS:
            return redirect(reverse("admin:reports_report_change", args=[pk]))
        report = get_object_or_404(self.get_queryset(request), pk=pk)
        if not permissions.can_act_on_request(request.user, report):
            raise PermissionDenied
        title, form_class = ACTIONS[action]
        form = form_class(request.POST or None, request_obj=report)
        if request.method == "POST" and form.is_valid():
            try:
                done = _perform(action, report, request.user, form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                level = messages.WARNING if getattr(done, "warn", False) else messages.SUCCESS
                self.message_user(request, done or _("C'est fait."), level)
                return redirect(reverse("admin:reports_report_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": report,
            "title": f"{title} – {report.reference}",
            "form": form,
        }
        return TemplateResponse(request, "admin/reports/report/act.html", context)


class _Warning(str):
    """A message saying that something was not done as the agent may expect."""

    warn = True


def _reply_outcome(event) -> str:
    """Exactly what became of an answer: published, and queued for how many addresses."""
    told = (event.data or {}).get("mailed_to", 0)
    if not told:
        return _Warning(
            gettext_now(
                "Réponse publiée sur la page de suivi seulement : aucun courriel n'est envoyé "
                "(personne à prévenir). Le demandeur la verra s'il revient sur sa page de suivi."
            )
        )
    return ngettext(
        "Réponse publiée sur la page de suivi ; un courriel part vers %(n)s destinataire "
        "(le demandeur ou un abonné).",
        "Réponse publiée sur la page de suivi ; un courriel part vers chacun des %(n)s "
        "destinataires (le demandeur et les abonnés).",
        told,
    ) % {"n": told}


def _perform(action: str, report: Report, user, data: dict) -> str | None:
    if action == "transfer":
        tracking.request_transfer(
            report, to_service=data["to_service"], reason=data["reason"], actor=user
        )
    elif action == "status":
        tracking.request_set_status(
            report, status=data["status"], message=data["message"], note=data["note"], actor=user
        )
    elif action == "reply":
        event = tracking.request_reply(
            report,
            message=data["message"],
            actor=user,
            publish_unmailed=data.get("publish_unmailed", False),
        )
        return _reply_outcome(event)
    elif action == "note":
        tracking.request_add_note(report, note=data["note"], actor=user)
    elif action == "moderate":
        services.report_moderate(
            report,
            actor=user,
            hidden=data["hidden"],
            reason=data["reason"],
            photos_hidden=[int(pk) for pk in data["photos_hidden"]],
        )
    elif action == "edit":
        services.report_edit_description(
            report, actor=user, description=data["description"], reason=data["reason"]
        )
    elif action == "merge":
        into = Report.objects.filter(reference=data["into"].strip().upper()).first()
        if into is None:
            raise ValidationError({"into": "Aucun signalement ne porte ce numéro."})
        services.report_merge(report, into=into, actor=user)
