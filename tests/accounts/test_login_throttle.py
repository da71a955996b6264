"""Failed logins (the portal's and the admin's) and password reset requests are throttled per
account and per address, with a French reason, 429 and Retry-After; nobody is locked out for
good, and a browser that logged in before is never locked out by someone else's failures."""

import html
import re

import pytest
from django.test import Client

from accounts import throttle
from accounts.models import User
from core import ratelimit
from notifications.models import OutboxMail

pytestmark = pytest.mark.django_db

LOGIN = "/compte/connexion/"
ADMIN_LOGIN = "/admin/login/"
RESET = "/compte/mot-de-passe/oublie/"
PASSWORD = "Un-mot-de-passe-2026"


@pytest.fixture
def camille(db):
    return User.objects.create_user(email="camille@example.org", password=PASSWORD)


def login(client, email, password, address="192.0.2.1", url=LOGIN):
    return client.post(url, {"username": email, "password": password}, REMOTE_ADDR=address)


def text(response) -> str:
    return html.unescape(response.content.decode())


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def logout(client):
    """Through the portal's logout page: the browser keeps its cookies but the session's
    (Client.logout() would drop them all, as no browser does)."""
    assert client.post("/compte/deconnexion/").status_code == 302
    assert not logged_in(client)


def wrong_password(response) -> bool:
    errors = response.context["form"].non_field_errors().as_data()
    return [e.code for e in errors] == ["invalid_login"]


def without_csrf(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_failures_on_one_account_from_many_addresses_are_throttled(client, camille):
    """Guessing one citizen's password from a botnet: five failures, then even the right
    password is refused for a while (else the refusal itself would tell the guess is wrong)."""
    for n in range(5):
        failed = login(client, camille.email, f"essai-{n}", address=f"198.51.100.{n + 1}")
        assert failed.status_code == 200 and wrong_password(failed)
    refused = login(client, camille.email, PASSWORD, address="203.0.113.50")
    assert refused.status_code == 429
    # the sliding window (5 in 300 s) weighs the previous window's failures as they fade:
    # at most the window and a fifth of it
    assert 1 <= int(refused["Retry-After"]) <= 300 + 300 // 5
    assert "Trop de tentatives de connexion" in text(refused)
    assert not logged_in(client)


def test_the_account_is_counted_whatever_the_case_of_its_email(client, camille):
    for n, email in enumerate(
        ["Camille@example.org", "CAMILLE@EXAMPLE.ORG ", "camille@Example.org"]
    ):
        login(client, email, "faux", address=f"198.51.100.{n + 1}")
    for n in range(2):
        login(client, camille.email, "faux", address=f"198.51.100.{n + 10}")
    assert login(client, camille.email, PASSWORD, address="203.0.113.50").status_code == 429


def test_many_accounts_from_one_address_are_throttled(client, camille):
    """Trying a common password on many accounts from one address: twenty failures, then
    that address is refused, whatever account it names."""
    for n in range(20):
        assert login(client, f"habitant{n}@example.org", "Azerty123456").status_code == 200
    refused = login(client, camille.email, PASSWORD)
    assert refused.status_code == 429 and "Trop de tentatives" in text(refused)
    # another address is not concerned
    assert login(client, camille.email, PASSWORD, address="203.0.113.50").status_code == 302


def test_others_failures_on_another_account_do_not_block_a_login(client, camille):
    for n in range(10):
        login(client, "dominique@example.org", "faux", address=f"198.51.100.{n + 1}")
    assert login(client, "dominique@example.org", "faux").status_code == 429
    assert login(client, camille.email, PASSWORD, address="203.0.113.50").status_code == 302
    assert logged_in(client)


def test_successful_logins_are_not_counted(client, camille):
    for _ in range(8):
        assert login(client, camille.email, PASSWORD).status_code == 302
        client.logout()
    for _ in range(4):
        login(client, camille.email, "faux")
    assert login(client, camille.email, PASSWORD).status_code == 302


def test_the_wait_slides_it_is_not_a_ban(client, camille, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(ratelimit, "_clock", lambda: now[0])
    for n in range(5):
        login(client, camille.email, "faux", address=f"198.51.100.{n + 1}")
    refused = login(client, camille.email, PASSWORD, address="203.0.113.50")
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    # refused tries are not counted: trying again does not prolong the wait...
    now[0] += wait - 1
    assert login(client, camille.email, PASSWORD, address="203.0.113.50").status_code == 429
    # ...which ends when Retry-After said
    now[0] += 1
    assert login(client, camille.email, PASSWORD, address="203.0.113.50").status_code == 302


def test_a_browser_that_logged_in_before_is_not_locked_out(client, camille):
    """An attacker failing on purpose on a citizen's account (to lock them out) blocks new
    browsers for a while, never the browser the citizen logged in with before."""
    assert login(client, camille.email, PASSWORD).status_code == 302
    assert throttle.DEVICE_COOKIE in client.cookies
    logout(client)

    attacker = Client()
    for n in range(25):
        login(attacker, camille.email, f"essai-{n}", address=f"198.51.100.{n + 1}")
    assert login(attacker, camille.email, PASSWORD, address="198.51.100.99").status_code == 429
    # the same address as the attacker, even (a shared connection)
    assert login(client, camille.email, PASSWORD, address="198.51.100.1").status_code == 302
    assert logged_in(client)

    # the cookie is bound to the account and signed: it opens no other account's quota...
    logout(client)
    for n in range(5):
        login(client, "dominique@example.org", "faux", address=f"203.0.113.{n + 1}")
    assert login(client, "dominique@example.org", "faux").status_code == 429
    # ...nor is a forged one accepted
    attacker.cookies[throttle.DEVICE_COOKIE] = client.cookies[throttle.DEVICE_COOKIE].value[:-2]
    assert login(attacker, camille.email, PASSWORD, address="198.51.100.99").status_code == 429


def test_a_known_browser_has_its_own_limit(client, camille):
    """Someone else at that browser guessing: five failures, then it waits too, while the
    account's own counter (other browsers) is untouched."""
    assert login(client, camille.email, PASSWORD).status_code == 302
    logout(client)
    for _ in range(5):
        assert wrong_password(login(client, camille.email, "faux"))
    assert login(client, camille.email, PASSWORD).status_code == 429
    elsewhere = Client()
    assert login(elsewhere, camille.email, PASSWORD, address="203.0.113.9").status_code == 302


def test_the_admin_login_is_throttled_too(client, demo):
    admin = demo.lib_admin.email
    for n in range(5):
        failed = login(client, admin, "faux", address=f"198.51.100.{n + 1}", url=ADMIN_LOGIN)
        assert failed.status_code == 200
    refused = login(client, admin, "Libercourt-demo-2026", url=ADMIN_LOGIN)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Trop de tentatives de connexion" in text(refused)
    assert not logged_in(client)
    # the failures were counted on the account, whichever login page they came through
    assert login(client, admin, "Libercourt-demo-2026", address="203.0.113.5").status_code == 429
    # another administrator logs in there, and the browser is remembered for that account
    other = login(client, demo.cahc_admin.email, "Libercourt-demo-2026", url=ADMIN_LOGIN)
    assert other.status_code == 302 and throttle.DEVICE_COOKIE in other.cookies
    assert other.cookies[throttle.DEVICE_COOKIE]["httponly"]


def test_logins_work_with_redis_down(client, camille, settings, stopped_redis_url):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": stopped_redis_url}}
    for _ in range(8):
        assert login(client, camille.email, "faux").status_code == 200
    assert login(client, camille.email, PASSWORD).status_code == 302


def reset(client, email, address="192.0.2.1"):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=address)


def test_password_resets_per_email_whether_an_account_exists_or_not(client, camille):
    """Three links an hour per email; the fourth request is refused with the same answer for
    an address with an account and one without (no enumeration)."""
    for email in (camille.email, "personne@example.org"):
        for n in range(3):
            assert reset(client, email, address=f"198.51.100.{n + 1}").status_code == 302
    mine = reset(client, camille.email, address="203.0.113.7")
    nobody = reset(client, "personne@example.org", address="203.0.113.8")
    assert mine.status_code == nobody.status_code == 429
    assert mine["Retry-After"] and nobody["Retry-After"]
    assert "Trop de demandes de nouveau mot de passe" in text(mine)
    assert without_csrf(text(mine)).replace(camille.email, "X") == without_csrf(
        text(nobody)
    ).replace("personne@example.org", "X")
    assert OutboxMail.objects.filter(to=camille.email).count() == 3  # no fourth link


def test_password_resets_per_address(client, camille):
    for n in range(10):
        assert reset(client, f"habitant{n}@example.org").status_code == 302
    refused = reset(client, camille.email)
    assert refused.status_code == 429 and "Trop de demandes" in text(refused)
    assert not OutboxMail.objects.filter(to=camille.email).exists()
    assert reset(client, camille.email, address="203.0.113.7").status_code == 302


def test_a_password_reset_lets_a_locked_out_citizen_in(client, camille):
    """The refusal says "ou demandez un nouveau mot de passe": a completed reset proves the
    mailbox, so it logs the citizen in and remembers the browser, which someone failing on the
    account on purpose then keeps out no longer (even on a new phone, a private window)."""
    attacker = Client()
    for n in range(6):
        login(attacker, camille.email, f"essai-{n}", address=f"198.51.100.{n + 1}")
    refused = login(client, camille.email, PASSWORD, address="203.0.113.7")
    assert refused.status_code == 429
    assert "ou demandez un nouveau mot de passe" in text(refused)

    assert reset(client, camille.email, address="203.0.113.7").status_code == 302
    mail = OutboxMail.objects.get(to=camille.email, topic="account:password-reset")
    link = re.search(r"https?://\S+", mail.body).group(0).split("localhost:8000", 1)[-1]
    form = client.get(link, follow=True)
    new = "Un-nouveau-mot-de-passe-62"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302 and logged_in(client)
    assert "Vous êtes connecté" in text(client.get(done["Location"]))

    logout(client)
    for n in range(6):  # the attacker goes on
        login(attacker, camille.email, f"encore-{n}", address=f"198.51.100.{n + 1}")
    assert login(attacker, camille.email, new, address="198.51.100.99").status_code == 429
    assert login(client, camille.email, new, address="203.0.113.7").status_code == 302
    assert logged_in(client)
