from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import ratelimit
from reports.selectors import reports_of
from tracking.services import requests_claim

from . import services
from .forms import SignupForm


def signup(request):
    if request.user.is_authenticated:
        return redirect("citizens:my-requests")
    form = SignupForm(request.POST or None)
    refusal = ratelimit.check(request, "attempt") if request.method == "POST" else None
    if refusal is None and request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Counted once the account (and its verification mail) is stored: a mistyped password
        # does not use up the sign-ups; one too many is rolled back, its mail with it.
        try:
            with transaction.atomic():
                services.signup(
                    email=data["email"],
                    password=data["password1"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                )
                ratelimit.count(request, "signup")
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


def verify(request, token: str):
    user, claimed = services.verify(token)
    if user is None:
        return render(request, "citizens/verify_failed.html", status=400)
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
