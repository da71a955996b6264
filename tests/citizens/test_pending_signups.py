"""Signing up again with an address not yet verified takes nothing from the first sign-up.

Each sign-up of an unverified address is its own pending row (hashed password, names) and its
link names that row: the link shows a page asking for the password chosen at that sign-up
(following it changes nothing), opens the account with that password only, once, and every
other pending link of the account stops working. So a link mailed for someone else's sign-up
with the address is useless to the address's owner, who does not know that password.
"""

import datetime as dt
import html
import re
import time

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services as accounts
from accounts.models import PendingSignup, User
from accounts.services import membership_grant
from accounts.tasks import purge_pending_signups_task
from core import ratelimit
from notifications.models import OutboxMail

pytestmark = pytest.mark.django_db

SIGNUP = "/compte/inscription/"
LOGIN = "/compte/connexion/"
EMAIL = "camille@example.org"
OWNER = "Tilleuls-du-62820"
ATTACKER = "Squatteur-2026-xx"


def signup(client, password, email=EMAIL, **extra):
    data = {"email": email, "password1": password, "password2": password, **extra}
    response = client.post(SIGNUP, data)
    assert response.status_code == 200 and "Vérifiez votre adresse" in response.content.decode()
    return response


def links(to=EMAIL) -> list[str]:
    """The verification links sent to the address, oldest first, as paths."""
    mails = OutboxMail.objects.filter(topic="account:verify", to=to).order_by("pk")
    return [
        re.search(r"https?://\S+", m.body).group(0).split("localhost:8000", 1)[-1] for m in mails
    ]


def verify(client, link, password):
    """Follow a verification link (a page asking for the sign-up's password), then send it."""
    page = client.get(link)
    assert page.status_code == 200 and "choisi lors de l'inscription" in page.content.decode()
    return client.post(link, {"password": password})


def logs_in(client, password, email=EMAIL) -> bool:
    client.logout()
    client.post(LOGIN, {"username": email, "password": password})
    return "_auth_user_id" in client.session


def test_a_second_sign_up_cannot_take_over_the_first_link(client, demo, make_report):
    """The attack of issue 13: the owner signs up, someone signs up again with the owner's
    address and another password; the owner's link opens the owner's password only, the
    reports made earlier with the address go to the owner, and the other link is dead."""
    earlier = make_report("signalisation", contact_email=EMAIL)
    signup(client, OWNER, first_name="Camille")
    user = User.objects.get(email=EMAIL)
    before = (user.password, user.first_name, user.is_active, user.email_verified_at)
    signup(client, ATTACKER, first_name="Intrus")
    user.refresh_from_db()
    # Nothing of the account changed: the second sign-up only waits for its own link.
    assert (user.password, user.first_name, user.is_active, user.email_verified_at) == before
    assert not user.has_usable_password() and not user.is_active
    assert not logs_in(client, OWNER) and not logs_in(client, ATTACKER)

    owners_link, attackers_link = links()
    assert verify(client, owners_link, OWNER).status_code == 302
    user.refresh_from_db()
    assert user.is_active and user.email_verified_at and user.first_name == "Camille"
    assert logs_in(client, OWNER)
    assert not logs_in(client, ATTACKER)
    earlier.refresh_from_db()
    assert earlier.author == user and earlier.contact_email == ""
    assert not PendingSignup.objects.filter(user=user).exists()

    client.logout()
    dead = client.get(attackers_link)
    assert dead.status_code == 400 and "_auth_user_id" not in client.session
    dead = client.post(attackers_link, {"password": ATTACKER})
    assert dead.status_code == 400 and "_auth_user_id" not in client.session
    assert logs_in(client, OWNER) and not logs_in(client, ATTACKER)


def test_the_second_link_opens_the_account_with_its_own_sign_up(client, demo):
    signup(client, ATTACKER, first_name="Premier")
    signup(client, OWNER, first_name="Second", last_name="Envoi")
    first, second = links()
    assert verify(client, second, OWNER).status_code == 302
    user = User.objects.get(email=EMAIL)
    assert (user.first_name, user.last_name) == ("Second", "Envoi")
    assert logs_in(client, OWNER) and not logs_in(client, ATTACKER)
    client.logout()
    assert client.get(first).status_code == 400  # superseded by the verification
    assert client.get(second).status_code == 400  # used
    assert logs_in(client, OWNER) and not logs_in(client, ATTACKER)


def test_a_link_works_three_days(client, demo, monkeypatch):
    signup(client, OWNER)
    (owners_link,) = links()
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now + 3 * 24 * 3600 + 60)
    assert client.get(owners_link).status_code == 400
    assert not User.objects.get(email=EMAIL).is_active
    monkeypatch.setattr(signing.time, "time", lambda: now + 3 * 24 * 3600 - 60)
    assert verify(client, owners_link, OWNER).status_code == 302
    assert logs_in(client, OWNER)


def test_a_link_made_before_pending_sign_ups_is_refused(client, db):
    """Links of the former kind (the account and its address, no sign-up named) are dead: they
    would open whatever password the account held."""
    signup(client, OWNER)
    user = User.objects.get(email=EMAIL)
    old = signing.dumps({"u": user.pk, "e": EMAIL}, salt=accounts.VERIFY_SALT, compress=True)
    assert client.get(f"/compte/verifier/{old}/").status_code == 400
    assert not User.objects.get(email=EMAIL).is_active


def test_password_reset_cannot_open_an_unverified_account(client, db):
    """No reset mail for an account whose address is not proven; and a reset made anyway (a
    token for the inactive account) neither opens it nor changes what the owner's link opens."""
    signup(client, OWNER)
    client.post("/compte/mot-de-passe/oublie/", {"email": EMAIL})
    assert not OutboxMail.objects.filter(topic="account:password-reset").exists()

    user = User.objects.get(email=EMAIL)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    form = client.get(
        f"/compte/mot-de-passe/{uid}/{default_token_generator.make_token(user)}/", follow=True
    )
    new = "Un-mot-de-passe-force-62"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302  # the reset itself went through...
    user.refresh_from_db()
    assert user.check_password(new)
    assert not logs_in(client, new)  # ...but the account is still closed
    (link,) = links()
    client.logout()
    assert client.post(link, {"password": new}).status_code == 200  # the reset one: refused
    assert not User.objects.get(email=EMAIL).is_active
    assert verify(client, link, OWNER).status_code == 302
    assert logs_in(client, OWNER) and not logs_in(client, new)


def test_an_address_with_a_verified_account_gets_no_pending_sign_up(client, demo):
    signup(client, ATTACKER, email=demo.citizen.email)
    assert not PendingSignup.objects.exists()
    assert OutboxMail.objects.filter(to=demo.citizen.email, topic="account:exists").exists()
    assert logs_in(client, "Libercourt-demo-2026", email=demo.citizen.email)
    assert not logs_in(client, ATTACKER, email=demo.citizen.email)


def test_pending_sign_ups_are_forgotten_once_their_link_expired(client, db):
    signup(client, OWNER)
    signup(client, ATTACKER, email="dominique@example.org")
    old = PendingSignup.objects.get(user__email=EMAIL)
    PendingSignup.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=3, minutes=1)
    )
    purge_pending_signups_task.apply()  # what the beat schedules every hour
    assert list(PendingSignup.objects.values_list("user__email", flat=True)) == [
        "dominique@example.org"
    ]


def test_accounts_only_sign_ups_made_are_forgotten_with_their_last_sign_up(
    client, demo, make_report
):
    """Data minimisation: an address nobody proved leaves no account once its last link has
    expired. An account that holds anything (a request, a role) or was verified stays."""
    emails = [EMAIL, "dominique@example.org", "claude@example.org", "alix@example.org"]
    for email in emails:
        signup(client, OWNER, email=email)
    dominique = User.objects.get(email="dominique@example.org")
    make_report("signalisation", author=dominique)  # a request made with the account
    membership_grant(user=User.objects.get(email="claude@example.org"), service=demo.eau)
    PendingSignup.objects.exclude(user__email="alix@example.org").update(
        created_at=timezone.now() - dt.timedelta(days=3, minutes=1)
    )

    purge_pending_signups_task.apply()
    assert not User.objects.filter(email=EMAIL).exists()
    assert set(User.objects.filter(email__in=emails).values_list("email", flat=True)) == {
        "dominique@example.org",  # holds a request
        "claude@example.org",  # holds a role
        "alix@example.org",  # its link still works
    }
    assert User.objects.filter(email=demo.citizen.email).exists()  # verified
    assert list(PendingSignup.objects.values_list("user__email", flat=True)) == ["alix@example.org"]
    # the address can sign up again, from scratch
    signup(client, OWNER)
    assert verify(client, links()[-1], OWNER).status_code == 302


def test_the_verification_mail_says_which_sign_up_it_opens_and_asks_its_password(client, db):
    signup(client, OWNER)
    body = " ".join(OutboxMail.objects.get(topic="account:verify", to=EMAIL).body.split())
    created = timezone.localtime(PendingSignup.objects.get().created_at)
    assert f"{created.hour} h {created:%M}" in body
    assert "La page vous demandera le mot de passe choisi lors de l'inscription" in body
    assert "Si vous ne vous êtes pas inscrit, ignorez ce message" in body


# --- The link asks for the password chosen at sign-up --------------------------------------

NOT_THIS_SIGN_UP = "Ce mot de passe ne correspond pas à cette inscription"
TOO_MANY = "Trop de mots de passe essayés pour activer ce compte"


def text(response) -> str:
    return html.unescape(response.content.decode())


def closed(email=EMAIL) -> bool:
    """The account is as the sign-ups left it: inactive, unproven, no usable password."""
    user = User.objects.get(email=email)
    return not user.is_active and user.email_verified_at is None and not user.has_usable_password()


def test_the_owner_following_someone_elses_link_cannot_open_the_account(client, demo, make_report):
    """The risk left after the pending sign-ups: someone signs up with the owner's address, the
    owner receives that sign-up's link and follows it, believing it is theirs. The page asks for
    the password chosen at that sign-up, which the owner does not know: the owner's password is
    refused and nothing happens; the owner's own link with the owner's password opens the
    account, and the other link is then dead, even with the password it was made with."""
    earlier = make_report("signalisation", contact_email=EMAIL)
    signup(client, OWNER, first_name="Camille")
    signup(client, ATTACKER, first_name="Intrus")
    owners_link, attackers_link = links()

    page = client.get(attackers_link)
    assert page.status_code == 200 and EMAIL in text(page)
    refused = client.post(attackers_link, {"password": OWNER})
    assert refused.status_code == 200 and NOT_THIS_SIGN_UP in text(refused)
    assert "ignorez ce courriel : rien n'a été créé" in text(refused)
    assert "_auth_user_id" not in client.session
    assert closed() and PendingSignup.objects.filter(user__email=EMAIL).count() == 2
    earlier.refresh_from_db()
    assert earlier.author is None and earlier.contact_email == EMAIL
    # The other way round: the owner's link does not take the other sign-up's password either.
    assert NOT_THIS_SIGN_UP in text(client.post(owners_link, {"password": ATTACKER}))
    assert closed() and not logs_in(client, OWNER) and not logs_in(client, ATTACKER)

    client.logout()
    assert client.get(attackers_link).status_code == 200  # a wrong password: the link still works
    opened = verify(client, owners_link, OWNER)
    assert opened.status_code == 302 and opened["Location"] == "/compte/mes-demandes/"
    user = User.objects.get(email=EMAIL)
    assert user.is_active and user.first_name == "Camille"
    earlier.refresh_from_db()
    assert earlier.author == user
    client.logout()
    dead = client.post(attackers_link, {"password": ATTACKER})
    assert dead.status_code == 400 and "_auth_user_id" not in client.session
    assert logs_in(client, OWNER) and not logs_in(client, ATTACKER)


def test_following_a_link_changes_nothing(demo, make_report):
    """A mail scanner (or anybody) following the link with GET opens nothing and spends
    nothing: the account stays closed, its pending sign-ups stay, nobody is logged in, the
    requests stay unclaimed. The page is a form sent by POST with a CSRF token."""
    earlier = make_report("signalisation", contact_email=EMAIL)
    browser = Client(enforce_csrf_checks=True)
    signup(Client(), OWNER, first_name="Camille")
    signup(Client(), ATTACKER)
    owners_link, _ = links()
    before = list(PendingSignup.objects.order_by("pk").values_list("pk", "password"))
    for _n in range(3):
        page = browser.get(owners_link)
        assert page.status_code == 200
        assert 'method="post"' in text(page) and 'name="csrfmiddlewaretoken"' in text(page)
        assert 'type="password" name="password"' in text(page)
    assert browser.head(owners_link).status_code == 200
    assert closed() and "_auth_user_id" not in browser.session
    assert list(PendingSignup.objects.order_by("pk").values_list("pk", "password")) == before
    earlier.refresh_from_db()
    assert earlier.author is None

    assert browser.post(owners_link, {"password": OWNER}).status_code == 403  # no CSRF token
    assert closed()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text(page)).group(1)
    opened = browser.post(owners_link, {"password": OWNER, "csrfmiddlewaretoken": token})
    assert opened.status_code == 302 and "_auth_user_id" in browser.session
    assert not PendingSignup.objects.exists()


def test_a_link_cannot_be_brute_forced(client, db, monkeypatch):
    """Five wrong passwords on a link in an hour, from anywhere: then even the right one is
    refused for a while (429, Retry-After, the reason), without being checked; the link itself
    is not spent and works once the window has passed."""
    signup(client, OWNER)
    (link,) = links()
    for n in range(5):
        wrong = client.post(link, {"password": f"essai-{n}"}, REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert wrong.status_code == 200 and NOT_THIS_SIGN_UP in text(wrong)
    refused = client.post(link, {"password": OWNER}, REMOTE_ADDR="203.0.113.50")
    assert refused.status_code == 429 and TOO_MANY in text(refused)
    assert 1 <= int(refused["Retry-After"]) <= 2 * 3600
    assert closed() and "_auth_user_id" not in client.session
    assert client.get(link).status_code == 200

    later = time.time() + 2 * 3600
    monkeypatch.setattr(ratelimit, "_clock", lambda: later)
    assert verify(client, link, OWNER).status_code == 302
    assert logs_in(client, OWNER)


def test_the_limit_is_the_services_whoever_calls_it(client, db):
    """Counted by accounts.services.citizen_verify, not by the page: any other caller (an API,
    a command) meets it too. Five wrong passwords, then even the right one is refused without
    being checked, and the account stays closed."""
    signup(client, OWNER)
    (link,) = links()
    token = link.rstrip("/").rsplit("/", 1)[-1]
    for n in range(5):
        with pytest.raises(accounts.WrongPassword):
            accounts.citizen_verify(token, f"essai-{n}")
    with pytest.raises(ratelimit.TooMany) as refused:
        accounts.citizen_verify(token, OWNER)
    assert TOO_MANY in refused.value.refusal.message
    assert closed()


def test_the_links_of_one_account_share_a_limit(client, db):
    """Several links of one account do not multiply the tries: five wrong passwords over its
    links in an hour, and the next link is refused at its first try."""
    for _n in range(3):
        signup(client, OWNER)
    first, second, third = links()
    for n, link in enumerate([first] * 3 + [second] * 2):
        wrong = client.post(link, {"password": f"essai-{n}"}, REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert wrong.status_code == 200 and NOT_THIS_SIGN_UP in text(wrong)
    refused = client.post(third, {"password": OWNER}, REMOTE_ADDR="203.0.113.50")
    assert refused.status_code == 429 and TOO_MANY in text(refused)
    assert closed()


def test_passwords_tried_on_links_count_as_attempts_of_the_address(client, db, settings):
    """The tries also count in the address's "attempt" tier, like every other write: one
    address cannot spread its guesses over many links."""
    signup(client, OWNER)
    signup(client, ATTACKER, email="dominique@example.org")
    settings.GRC_RATE_LIMITS = {**settings.GRC_RATE_LIMITS, "attempt": [(3, 60)]}
    (camille,) = links()
    (dominique,) = links(to="dominique@example.org")
    for link in (camille, dominique, camille):
        wrong = client.post(link, {"password": "essai"}, REMOTE_ADDR="198.51.100.7")
        assert wrong.status_code == 200 and NOT_THIS_SIGN_UP in text(wrong)
    refused = client.post(dominique, {"password": ATTACKER}, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429 and "Trop d'envois" in text(refused)
    assert closed("dominique@example.org")
    opened = client.post(dominique, {"password": ATTACKER}, REMOTE_ADDR="198.51.100.8")
    assert opened.status_code == 302
