"""Forms of the agents' actions on a request (admin now, the agents' workspace later)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from organisations.models import Service
from tracking.models import Status
from tracking.services import TRANSITIONS


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Service) -> str:
        return f"{obj.organisation.name} – {obj.name}"


class TransferForm(forms.Form):
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

    def __init__(self, *args, request_obj=None, **kwargs):
        super().__init__(*args, **kwargs)
        qs = Service.objects.filter(is_active=True, organisation__on_board=True).select_related(
            "organisation"
        )
        if request_obj is not None and request_obj.service_id:
            qs = qs.exclude(pk=request_obj.service_id)
        self.fields["to_service"].queryset = qs.order_by("organisation__name", "name")


class StatusForm(forms.Form):
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

    def __init__(self, *args, request_obj=None, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS.get(request_obj.status, frozenset()) if request_obj else frozenset()
        self.fields["status"].choices = [(s.value, s.label) for s in Status if s in allowed]


class ReplyForm(forms.Form):
    message = forms.CharField(
        label=_("Réponse (publique, envoyée au demandeur)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=5000,
    )

    def __init__(self, *args, request_obj=None, **kwargs):
        super().__init__(*args, **kwargs)


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note interne"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )

    def __init__(self, *args, request_obj=None, **kwargs):
        super().__init__(*args, **kwargs)
