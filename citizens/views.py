from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
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
    if request.method == "POST":
        refusal = ratelimit.check(request, "signup")
        if refusal is not None:
            form.is_valid()
            form.add_error(None, refusal.message)
            response = render(request, "citizens/signup.html", {"form": form}, status=429)
            response["Retry-After"] = str(refusal.retry_after)
            return response
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.signup(
                email=data["email"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        except ValidationError as exc:
            form.add_error("password1", exc.messages)
        else:
            return render(request, "citizens/signup_sent.html", {"email": data["email"]})
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
