from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import throttle
from accounts.services import WrongPassword, verification_pending
from core import ratelimit
from reports.selectors import reports_of
from tracking.services import requests_claim

from . import services
from .forms import SignupForm, VerifyForm


def signup(request):
    if request.user.is_authenticated:
        return redirect("citizens:my-requests")
    form = SignupForm(request.POST or None)
    refusal = ratelimit.check(request, "attempt") if request.method == "POST" else None
    if refusal is None and request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Counted once the account (and its verification mail) is stored, per address and per
        # email: a mistyped password does not use up the sign-ups; one too many is rolled
        # back, its mail with it.
        try:
            with transaction.atomic():
                services.signup(
                    email=data["email"],
                    password=data["password1"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                )
                throttle.signup_stored(request, data["email"])
        except ValidationError as exc:
            form.add_error("password1", exc.messages)
        except ratelimit.TooMany as exc:
            refusal = exc.refusal
        else:
            return render(request, "citizens/signup_sent.html", {"email": data["email"]})
    if refusal is not None:
        form.is_valid()
        form.add_error(None, refusal.message)
        return ratelimit.refused(render(request, "citizens/signup.html", {"form": form}), refusal)
    return render(request, "citizens/signup.html", {"form": form})


@sensitive_post_parameters("password")
@never_cache
def verify(request, token: str):
    """The verification link. GET shows the page asking for the password chosen at sign-up
    and changes nothing (a mail scanner following the link spends nothing). POST opens the
    account only if the password is the one of the sign-up the link names: a link mailed for
    someone else's sign-up with this address is useless to the address's owner, who does not
    know that password. Tries are counted per address (``"attempt"``) here, and per account by
    the service (``accounts.services.citizen_verify``), a wrong one leaving the link valid."""
    pending = verification_pending(token)
    if pending is None:
        return render(request, "citizens/verify_failed.html", status=400)
    form = VerifyForm(request.POST or None)
    context = {"form": form, "email": pending.user.email, "requested_at": pending.created_at}
    if request.method != "POST":
        return render(request, "citizens/verify.html", context)
    refusal = ratelimit.check(request, "attempt")
    if refusal is None and form.is_valid():
        try:
            user, claimed = services.verify(token, form.cleaned_data["password"])
        except WrongPassword:  # counted; the link still works
            form.add_error(
                None,
                _(
                    "Ce mot de passe ne correspond pas à cette inscription. Si vous ne vous "
                    "êtes pas inscrit, ignorez ce courriel : rien n'a été créé."
                ),
            )
        except ratelimit.TooMany as exc:
            refusal = exc.refusal
        else:
            if user is None:  # used or superseded since the page was shown
                return render(request, "citizens/verify_failed.html", status=400)
            return _verified(request, user, claimed)
    if refusal is not None:
        form.is_valid()
        form.add_error(None, refusal.message)
        return ratelimit.refused(render(request, "citizens/verify.html", context), refusal)
    return render(request, "citizens/verify.html", context)


def _verified(request, user, claimed: int):
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, _("Votre adresse est vérifiée, votre compte est ouvert."))
    if claimed:
        messages.info(
            request,
            _("%(n)s demande(s) faite(s) avec cette adresse sont maintenant dans votre espace.")
            % {"n": claimed},
        )
    return redirect("citizens:my-requests")


@login_required
def my_requests(request):
    return render(request, "citizens/my_requests.html", {"reports": reports_of(request.user)})


@login_required
@require_POST
def claim(request):
    claimed = requests_claim(request.user)
    messages.info(request, _("%(n)s demande(s) rattachée(s) à votre compte.") % {"n": claimed})
    return redirect("citizens:my-requests")


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset page, requests counted per address and per email (accounts.throttle); the
    answer is the same whether an account has that email or not."""

    def form_valid(self, form):
        refusal = throttle.password_reset(self.request, form.cleaned_data["email"])
        if refusal is not None:
            form.add_error(None, refusal.message)
            return ratelimit.refused(self.form_invalid(form), refusal)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's new-password page. A completed reset proves the mailbox: the citizen is logged
    in, and this browser remembered for the account (``throttle.remember_device``), so that
    failures made by others on the account (its login limit) never keep them out, as the
    login page's refusal promises."""

    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"

    def form_valid(self, form):
        response = super().form_valid(form)
        throttle.remember_device(self.request, response, form.user.email)
        return response
