"""The citizen's side of a report once sent: pages and forms only (the rules are in
tracking.services, reports.services and accounts.permissions).

On the tracking page the requester (signed-in author, or whoever holds the tracking link: the
key travels in the form, never in a URL they did not already have) writes to the service, adds
photos, says the problem is still there, and gives an address when they left none; any
signed-in resident follows a public report. Each write is counted by the rate limits like the
other writes, carries a one-off key against double submits, and lands back on the page.
"""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import ratelimit
from tracking import services as tracking
from tracking.models import Status

from . import selectors, services
from .forms import MultiplePhotoField, add_service_errors
from .models import Report
from .photos import photos_check
from .positions import shows_place


class _UpdateForm(forms.Form):
    submission = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


class MessageForm(_UpdateForm):
    message = forms.CharField(
        label=gettext_lazy("Votre message au service"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=tracking.CITIZEN_TEXT_MAX,
        help_text=gettext_lazy("Visible de vous et du service seulement, pas du public."),
    )


class PhotoForm(_UpdateForm):
    photos = MultiplePhotoField(
        label=gettext_lazy("Photos à ajouter"),
        required=True,
        help_text=gettext_lazy("JPEG, PNG ou WebP."),
    )


class ReopenForm(_UpdateForm):
    message = forms.CharField(
        label=gettext_lazy("Ce que vous constatez (facultatif)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=tracking.CITIZEN_TEXT_MAX,
        required=False,
        help_text=gettext_lazy("Visible de vous et du service seulement."),
    )


class ContactForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Votre adresse électronique"),
        max_length=254,
        help_text=gettext_lazy(
            "Nous y envoyons un lien pour la confirmer. Elle n'est jamais affichée sur cette page."
        ),
    )


FORMS = {"message": MessageForm, "photos": PhotoForm, "reopen": ReopenForm, "contact": ContactForm}


def _has_key(report: Report, key: str) -> bool:
    return bool(key) and constant_time_compare(key, report.access_key)


def conversation_context(
    request: HttpRequest, report: Report, *, key: str, bound: dict | None = None
) -> dict:
    """What the tracking page offers this reader: the requester's forms, following."""
    from accounts import permissions

    has_key = _has_key(report, key)
    user = request.user
    is_requester = permissions.can_update_as_requester(user, report, has_key=has_key)
    public = not report.is_hidden and shows_place(report, may_see_private=False)
    bound = bound or {}

    def form(name: str):
        if name in bound:
            return bound[name]
        # Each form its own one-off key (tracking.services.submitted_before).
        initial = {"submission": uuid.uuid4().hex}
        return FORMS[name](initial=initial, auto_id=f"id_{name}_%s")

    photos_left = settings.GRC_PHOTO_MAX_PER_REPORT - len(report.photos.all())
    context = {
        "is_requester": is_requester,
        "key": key if has_key else "",
        "can_follow": permissions.can_follow_request(user, report, is_public=public),
        "following": tracking.follows(report, user),
        # An anonymous requester is told through the address they gave (the form above).
        "show_follow": (public or is_requester) and (user.is_authenticated or not is_requester),
        # Back to the page itself, also when it is shown again after a refused form.
        "login_url": f"{reverse('accounts:login')}?"
        + urlencode({"next": reverse("reports:detail", args=[report.reference])}),
    }
    if is_requester:
        resolved = report.status == Status.RESOLVED
        refusal = tracking.reopen_refusal(report) if resolved else ""
        context.update(
            message_form=form("message"),
            photo_form=form("photos") if photos_left > 0 else None,
            photos_left=max(photos_left, 0),
            photos_per_post=settings.GRC_PHOTO_MAX_COUNT,
            photo_max_mb=settings.GRC_PHOTO_MAX_BYTES // 1_048_576,
            reopen_form=form("reopen") if resolved and not refusal else None,
            reopen_refusal=refusal,
            reopen_days=settings.GRC_REOPEN_DAYS,
            contact_form=form("contact") if tracking.may_add_contact(report) else None,
        )
    return context


def report_update(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    """POST of one of the tracking page's forms (``action``: message, photos, reopen,
    contact, follow, unfollow)."""
    from .views import render_detail  # views imports this module: a cycle otherwise

    if request.method != "POST":
        return redirect("reports:detail", reference=reference)
    report = selectors.report_by_reference(reference)
    key = request.POST.get("cle", "")
    access = selectors.report_access(report, user=request.user, access_key=key) if report else None
    if access is None or action not in (*FORMS, "follow", "unfollow"):
        raise Http404
    has_key = _has_key(report, key)
    refusal = ratelimit.check(request, "attempt")
    form_class = FORMS.get(action)
    form = (
        form_class(request.POST, request.FILES or None, auto_id=f"id_{action}_%s")
        if form_class
        else None
    )
    if refusal is not None:
        if form is not None:
            form.is_valid()
            form.add_error(None, refusal.message)
        return ratelimit.refused(
            render_detail(request, report, key, bound={action: form} if form else None),
            refusal,
        )
    if form is not None and not form.is_valid():
        return render_detail(request, report, key, bound={action: form}, status=400)
    data = form.cleaned_data if form is not None else {}
    try:
        photos = photos_check(data["photos"]) if action == "photos" else []
        with transaction.atomic():
            done = _perform(action, request, report, has_key=has_key, data=data, photos=photos)
            # The requester's writes mail the service (or the address given) also per request:
            # a tracking link passed around, or changing addresses, does not flood its inbox.
            per_request = [("update", f"request:{report.pk}")] if action in FORMS else []
            ratelimit.count(request, "update", also=per_request)
    except ValidationError as exc:
        if form is None:
            messages.error(request, " ".join(exc.messages))
            return _back(report, has_key)
        if hasattr(exc, "error_dict"):
            add_service_errors(form, exc)
        else:
            form.add_error(None, exc.messages)
        return render_detail(request, report, key, bound={action: form}, status=400)
    except ratelimit.TooMany as exc:
        if form is not None:
            form.add_error(None, exc.refusal.message)
        else:
            messages.error(request, exc.refusal.message)
        return ratelimit.refused(
            render_detail(request, report, key, bound={action: form} if form else None),
            exc.refusal,
        )
    messages.success(request, done)
    return _back(report, has_key)


def _back(report: Report, has_key: bool) -> HttpResponse:
    url = reverse("reports:detail", args=[report.reference])
    return redirect(f"{url}?cle={report.access_key}" if has_key else url)


def _perform(action: str, request, report: Report, *, has_key: bool, data: dict, photos) -> str:
    """Do it; return what the citizen is told."""
    user = request.user
    submission = data.get("submission", "")
    if action == "message":
        tracking.request_citizen_reply(
            report, user=user, has_key=has_key, message=data["message"], submission=submission
        )
        return _("Votre message est envoyé au service %(service)s.") % {"service": report.service}
    if action == "photos":
        services.report_add_photos(
            report, user=user, has_key=has_key, photos=photos, submission=submission
        )
        return _("Vos photos sont ajoutées et le service est prévenu.")
    if action == "reopen":
        tracking.request_reopen(
            report, user=user, has_key=has_key, message=data["message"], submission=submission
        )
        return _("C'est noté : la demande est rouverte et le service est prévenu.")
    if action == "contact":
        tracking.request_contact_offer(report, user=user, has_key=has_key, email=data["email"])
        return _(
            "Un lien de confirmation vient d'être envoyé à l'adresse indiquée : ouvrez-le pour "
            "recevoir les nouvelles de cette demande."
        )
    public = not report.is_hidden and shows_place(report, may_see_private=False)
    if action == "follow":
        tracking.request_follow(report, user=user, is_public=public)
        return _("Vous suivez ce signalement : chaque étape vous sera envoyée par courriel.")
    if not user.is_authenticated:
        raise PermissionDenied
    tracking.request_unfollow(report, email=user.email)
    return _("Vous ne suivez plus ce signalement.")


def report_unsubscribe(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The link in each mail: stop following, one button (a GET changes nothing, as mail
    scanners open links)."""
    report, email = _link_target(reference, tracking.unsubscribe_reader(token))
    done = False
    if request.method == "POST":
        tracking.request_unfollow(report, email=email)
        done = True
    return _confirm_page(
        request,
        report,
        title=_("Ne plus suivre la demande %(ref)s") % {"ref": report.reference},
        text=_("Vous ne recevrez plus de courriel au sujet de cette demande."),
        button=_("Ne plus recevoir les nouvelles"),
        done=done,
        done_text=_("C'est fait : vous ne recevrez plus de courriel au sujet de %(ref)s.")
        % {"ref": report.reference},
    )


def report_contact_confirm(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The link mailed to an address given on the tracking page: confirming makes it follow
    the request."""
    report, email = _link_target(reference, tracking.contact_reader(token))
    done = False
    if request.method == "POST":
        try:
            tracking.request_contact_confirm(report, email=email)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            done = True
    return _confirm_page(
        request,
        report,
        title=_("Recevoir les nouvelles de la demande %(ref)s") % {"ref": report.reference},
        text=_("Confirmez pour recevoir un courriel à chaque étape de cette demande."),
        button=_("Confirmer mon adresse"),
        done=done,
        done_text=_(
            "Adresse confirmée : vous recevrez un courriel à chaque étape de %(ref)s, avec "
            "votre lien de suivi."
        )
        % {"ref": report.reference},
    )


def _link_target(reference: str, read: tuple[int, str] | None) -> tuple[Report, str]:
    """The report and address of a mailed link (``read``: what its token says, None if the
    portal did not sign it); 404 unless it was made for this very report."""
    report = selectors.report_by_reference(reference)
    if report is None or read is None or read[0] != report.pk:
        raise Http404
    return report, read[1]


def _confirm_page(request, report, *, title, text, button, done, done_text) -> HttpResponse:
    response = render(
        request,
        "reports/confirm.html",
        {
            "report": report,
            "title": title,
            "text": text,
            "button": button,
            "done": done,
            "done_text": done_text,
        },
    )
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "same-origin"
    return response
