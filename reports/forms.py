"""Forms of the agents' actions on a request (admin now, the agents' workspace later)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from organisations.models import Service
from tracking.models import Status
from tracking.services import TRANSITIONS

from .services import report_change_plan


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field when the form has one."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class ActionForm(forms.Form):
    """An agent's action on one request (the request is given to the form)."""

    def __init__(self, *args, request_obj=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request_obj = request_obj


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Service) -> str:
        return f"{obj.organisation.name} – {obj.name}"


class TransferForm(ActionForm):
    to_service = ServiceChoiceField(
        label=_("Confier à"),
        queryset=Service.objects.none(),
        help_text=_("Un service de votre organisme, de la CAHC ou d'une autre commune."),
    )
    reason = forms.CharField(
        label=_("Motif (interne)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("Gardé dans l'historique et envoyé au service qui reçoit la demande."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request_obj = self.request_obj
        qs = Service.objects.filter(is_active=True, organisation__on_board=True).select_related(
            "organisation"
        )
        if request_obj is not None and request_obj.service_id:
            qs = qs.exclude(pk=request_obj.service_id)
        self.fields["to_service"].queryset = qs.order_by("organisation__name", "name")


class StatusForm(ActionForm):
    status = forms.ChoiceField(label=_("Nouvel état"))
    message = forms.CharField(
        label=_("Message au demandeur (public)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
        help_text=_("Obligatoire pour « clos sans suite » et « transmis à un autre organisme »."),
    )
    note = forms.CharField(
        label=_("Note interne"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        status = self.request_obj.status if self.request_obj else None
        allowed = TRANSITIONS.get(status, frozenset())
        self.fields["status"].choices = [(s.value, s.label) for s in Status if s in allowed]


class ReplyForm(ActionForm):
    message = forms.CharField(
        label=_("Réponse (publique, envoyée au demandeur)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=5000,
    )


class NoteForm(ActionForm):
    note = forms.CharField(
        label=_("Note interne"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )


class ReportCorrectionForm(forms.ModelForm):
    """The admin's report form: a corrected category or place must still route (same check as
    reports.services.report_change), or the error is shown on the field and nothing is saved."""

    def clean(self):
        data = super().clean()
        changed = set(self.changed_data) & {"category", "location"}
        if self.instance.pk is None or not changed or self.errors:
            return data
        try:
            report_change_plan(
                self.instance,
                category=data.get("category") if "category" in changed else None,
                location=data.get("location") if "location" in changed else None,
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):  # else "nothing changed": the same point re-serialised
                add_service_errors(self, exc)
        return data
