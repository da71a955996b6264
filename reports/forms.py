"""Forms of the agents' actions on a request (admin now, the agents' workspace later)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict
from django.utils.translation import gettext_lazy as _

from organisations.models import Service
from routing.questions import TEXT_MAX
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


class ModerateForm(ActionForm):
    hidden = forms.BooleanField(label=_("Masquer le signalement du public"), required=False)
    photos_hidden = forms.MultipleChoiceField(
        label=_("Photos à masquer"), required=False, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        label=_("Motif (interne)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        report = self.request_obj
        if report is not None:
            self.fields["hidden"].initial = report.is_hidden
            self.fields["photos_hidden"].choices = [
                (str(p.pk), f"Photo {n} ({p.width} × {p.height})")
                for n, p in enumerate(report.photos.all(), 1)
            ]
            self.fields["photos_hidden"].initial = [
                str(p.pk) for p in report.photos.all() if p.is_hidden
            ]


class EditDescriptionForm(ActionForm):
    description = forms.CharField(
        label=_("Description (publique)"), max_length=4000, widget=forms.Textarea(attrs={"rows": 5})
    )
    reason = forms.CharField(
        label=_("Motif (interne)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.request_obj is not None:
            self.fields["description"].initial = self.request_obj.description


class MergeForm(ActionForm):
    into = forms.CharField(
        label=_("Numéro du signalement à garder"),
        max_length=20,
        help_text=_(
            "Par exemple S2026-000042 : ce signalement-ci sera clos "
            "comme doublon, ses abonnés suivront l'autre."
        ),
    )


class ReplyForm(ActionForm):
    """A public answer. When nobody would get it by mail (no address left, nobody following),
    the form says so and asks whether to publish it on the tracking page only."""

    message = forms.CharField(
        label=_("Réponse (publique, envoyée au demandeur)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=5000,
    )
    publish_unmailed = forms.BooleanField(
        label=_("Publier sur la page de suivi seulement, sans courriel"),
        required=False,
    )

    def __init__(self, *args, **kwargs):
        from tracking.services import nobody_to_tell

        super().__init__(*args, **kwargs)
        unreachable = nobody_to_tell(self.request_obj) if self.request_obj is not None else ""
        if unreachable:
            self.fields["message"].label = _("Réponse (publique, affichée sur la page de suivi)")
            self.fields["publish_unmailed"].help_text = unreachable
        else:
            del self.fields["publish_unmailed"]


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


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Up to three files; their content is checked by reports.photos, not here."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultiplePhotoField, self).clean(f, initial) for f in files]


def category_choices() -> list:
    """Categories grouped by domain (an <optgroup> per domain), for the select list."""
    from routing.models import Category

    groups: dict[str, list] = {}
    for category in Category.objects.filter(is_active=True).select_related("domain"):
        groups.setdefault(category.domain.name, []).append((category.slug, category.name))
    return [("", _("— Choisissez —")), *groups.items()]


def _question_field(question: dict) -> forms.Field:
    required, label = question["required"], question["label"]
    # the error summary names the question: "Ce champ" says nothing at the top of the page
    missing = {"required": _("Répondez à la question « %(label)s ».") % {"label": label}}
    if question["type"] == "text":
        return forms.CharField(
            label=label, required=required, max_length=TEXT_MAX, error_messages=missing
        )
    if question["type"] == "choice":
        choices = [(c, c) for c in question["choices"]]
    else:  # boolean
        choices = [("oui", _("Oui")), ("non", _("Non"))]
    return forms.TypedChoiceField(
        label=label,
        required=required,
        choices=choices,
        coerce=(lambda v: v == "oui") if question["type"] == "boolean" else str,
        empty_value=None,
        widget=forms.RadioSelect,
        error_messages=missing,
    )


class ReportForm(forms.Form):
    """The citizen's report, in steps that also work without JavaScript: each step button
    posts the form back (``action``) and the page shows what comes next."""

    category = forms.ChoiceField(
        label=_("Le problème"),
        error_messages={"required": _("Choisissez le problème à signaler.")},
    )
    address_query = forms.CharField(
        label=_("Adresse"),
        required=False,
        max_length=200,
        help_text=_("Par exemple : 12 rue Jean-Jaurès"),
    )
    # "lon|lat|label" of the address picked among those found (checked by the view).
    address_choice = forms.CharField(
        label=_("Adresses trouvées"), required=False, max_length=320, widget=forms.RadioSelect
    )
    equipment_ref = forms.CharField(
        label=_("Numéro inscrit sur l'équipement"),
        required=False,
        max_length=100,
        help_text=_("Par exemple : EP-0042 sur un lampadaire, BAV-001 sur une borne à verre"),
    )
    lon = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-180, max_value=180)
    lat = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-90, max_value=90)
    address_label = forms.CharField(required=False, widget=forms.HiddenInput, max_length=255)
    equipment = forms.TypedChoiceField(
        label=_("Équipement concerné"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    description = forms.CharField(
        label=_("Décrivez le problème"),
        error_messages={"required": _("Décrivez le problème en quelques mots.")},
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": 4000}),
        help_text=_("4 000 caractères au plus. N'indiquez pas de données personnelles."),
    )
    # The hint beside the label (optional or required, how many) depends on the category.
    photos = MultiplePhotoField(
        label=_("Photos"),
        required=False,
        help_text=_(
            "JPEG, PNG ou WebP, 10 Mo au plus chacune. Nous retirons la position GPS "
            "et toutes les informations cachées de vos photos."
        ),
    )
    contact_email = forms.EmailField(label=_("Votre adresse électronique"), required=False)
    contact_phone = forms.CharField(
        label=_("Votre téléphone (facultatif)"), required=False, max_length=30
    )
    # A field people do not see (hidden by CSS and from assistive technologies): bots fill it.
    website = forms.CharField(label=_("Ne pas remplir"), required=False)

    def __init__(
        self,
        *args,
        address_hits=(),
        equipment_hits=(),
        questions=(),
        category=None,
        author=None,
        check=True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        # Only sending checks the form: placing the point, searching an address or choosing
        # the problem never shows an error about a field the citizen has not reached.
        self.check = check
        self.category, self.author = category, author
        self.fields["category"].choices = category_choices()
        # The category's extra questions (routing.questions), as fields q_<name>.
        self.questions = list(questions)
        for question in self.questions:
            self.fields[f"q_{question['name']}"] = _question_field(question)
        self.fields["address_choice"].widget.choices = [
            (f"{h.lon}|{h.lat}|{h.label}", h.label) for h in address_hits
        ]
        self.fields["equipment"].choices = [
            (
                h.id,
                f"{h.ref} – {h.layer_name}"
                + (f" (à {h.distance_m:.0f} m)" if h.distance_m is not None else ""),
            )
            for h in equipment_hits
        ]

    @property
    def question_fields(self) -> list:
        return [self[f"q_{q['name']}"] for q in self.questions]

    def answers(self) -> dict:
        """The answers given (cleaned), keyed by question name; unanswered ones left out."""
        out = {}
        for question in self.questions:
            value = self.cleaned_data.get(f"q_{question['name']}")
            if value not in (None, ""):
                out[question["name"]] = value
        return out

    def full_clean(self):
        super().full_clean()
        if not self.check:
            self._errors = ErrorDict()

    def clean(self):
        """What reports.services.report_create would refuse one reason at a time, checked here
        all at once so that every error is shown on the first send."""
        data = super().clean()
        category = self.category
        if category is None:
            if "category" not in self.errors:
                self.add_error("category", _("Choisissez le problème à signaler."))
            return data
        if category.photo_required and not self.files.getlist("photos"):
            self.add_error("photos", _("Pour ce problème, joignez au moins une photo."))
        if (
            self.author is None
            and not category.allow_anonymous
            and not data.get("contact_email")
            and "contact_email" not in self.errors
        ):
            self.add_error(
                "contact_email", _("Pour ce problème, indiquez une adresse électronique.")
            )
        return data

    def clean_website(self):
        if self.cleaned_data.get("website"):
            raise ValidationError(_("Envoi refusé."))
        return ""
