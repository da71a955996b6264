"""Citizen accounts: sign-up with a verified address, password reset, my requests, claiming."""

import re
from html import unescape

import pytest

from accounts.models import User
from notifications.models import OutboxMail
from reports.models import Report

pytestmark = pytest.mark.django_db

SIGNUP = "/compte/inscription/"
PASSWORD = "Tilleuls-du-62820"


def link_in(topic: str, to: str) -> str:
    body = OutboxMail.objects.filter(topic=topic, to=to).latest("created_at").body
    return re.search(r"https?://\S+", body).group(0).split("localhost:8000", 1)[-1]


FORM = {"password1": PASSWORD, "password2": PASSWORD}


def signup(client, email="camille@example.org", address="127.0.0.1", **extra):
    data = {"email": email, **FORM, **extra}
    return client.post(SIGNUP, data, REMOTE_ADDR=address)


def without_csrf(response) -> str:
    return re.sub(
        r'name="csrfmiddlewaretoken" value="[^"]+"', "", unescape(response.content.decode())
    )


def verify(client, link: str, password: str = PASSWORD):
    """Follow a verification link (a page asking for the sign-up's password), then send it."""
    page = client.get(link)
    assert page.status_code == 200 and "choisi lors de l'inscription" in page.content.decode()
    return client.post(link, {"password": password})


def test_sign_up_verify_and_find_the_reports_made_before(client, demo, make_report):
    earlier = make_report("signalisation", contact_email="Camille@Example.org")
    response = signup(client)
    assert response.status_code == 200 and "Vérifiez votre adresse" in response.content.decode()
    user = User.objects.get(email="camille@example.org")
    assert not user.is_active and user.email_verified_at is None
    client.post("/compte/connexion/", {"username": user.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session  # refused until the address is proven
    verified = verify(client, link_in("account:verify", "camille@example.org"))
    assert verified.status_code == 302 and verified["Location"] == "/compte/mes-demandes/"
    user.refresh_from_db()
    assert user.is_active and user.email_verified_at is not None
    page = client.get("/compte/mes-demandes/").content.decode()
    assert earlier.reference in page  # claimed on verification
    earlier.refresh_from_db()
    assert earlier.author == user and earlier.contact_email == ""


def test_an_address_with_an_account_is_told_by_mail_not_on_the_page(client, demo):
    response = signup(client, email=demo.citizen.email)
    assert "Vérifiez votre adresse" in response.content.decode()  # the same page: no enumeration
    assert OutboxMail.objects.filter(to=demo.citizen.email, topic="account:exists").exists()
    assert not OutboxMail.objects.filter(topic="account:verify").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"password1": "motdepasse", "password2": "motdepasse"}, "trop courant"),
        ({"password2": "autre-chose-encore"}, "diffèrent"),
        ({"website": "http://spam"}, "Envoi refusé"),
        ({"email": "pas-une-adresse"}, "adresse e-mail valide"),
    ],
)
def test_bad_sign_ups_say_why_and_create_nothing(client, db, extra, message):
    html = signup(client, **extra).content.decode()
    assert message in html
    assert not User.objects.filter(email="camille@example.org").exists()


def test_a_forged_or_foreign_link_is_refused(client, db):
    signup(client)
    link = link_in("account:verify", "camille@example.org")
    assert client.get(link[:-3] + "xyz/").status_code == 400
    assert client.post(link[:-3] + "xyz/", {"password": PASSWORD}).status_code == 400
    assert not User.objects.get(email="camille@example.org").is_active
    User.objects.filter(email="camille@example.org").update(email="autre@example.org")
    assert client.get(link).status_code == 400  # sent to an address the account no longer has
    assert client.post(link, {"password": PASSWORD}).status_code == 400
    assert not User.objects.get(email="autre@example.org").is_active


def test_a_weak_password_says_the_same_for_an_address_with_an_account(client, demo):
    """The password is judged before the address is looked up: no enumeration through it."""
    weak = {"password1": "motdepasse", "password2": "motdepasse"}
    known = signup(client, email=demo.citizen.email, **weak).content.decode()
    unknown = signup(client, email="personne@example.org", **weak).content.decode()
    assert "trop courant" in known and "trop courant" in unknown
    assert not OutboxMail.objects.exists()


def test_sign_ups_per_email_whether_an_account_exists_or_not(client, db):
    """Three sign-ups an hour per email, from any addresses (a mailbox is not flooded with
    links); the fourth is refused with the same answer for an address with an account and one
    without (no enumeration), and mails nothing."""
    User.objects.create_user(email="camille@example.org", password=PASSWORD)
    for email in ("camille@example.org", "personne@example.org"):
        for n in range(3):
            sent = signup(client, email=email, address=f"198.51.100.{n + 1}")
            assert sent.status_code == 200 and "Vérifiez votre adresse" in sent.content.decode()
    mine = signup(client, email="camille@example.org", address="203.0.113.7")
    nobody = signup(client, email="personne@example.org", address="203.0.113.8")
    assert mine.status_code == nobody.status_code == 429
    assert mine["Retry-After"] and nobody["Retry-After"]
    assert "Trop d'envois" in unescape(mine.content.decode())
    assert without_csrf(mine).replace("camille@example.org", "X") == without_csrf(nobody).replace(
        "personne@example.org", "X"
    )
    assert OutboxMail.objects.filter(to="camille@example.org", topic="account:exists").count() == 3
    assert OutboxMail.objects.filter(to="personne@example.org", topic="account:verify").count() == 3
    # another address is not concerned
    assert signup(client, email="dominique@example.org", address="203.0.113.9").status_code == 200


def test_a_verification_link_works_once(client, db):
    """Used, it no longer logs anybody in, and never reactivates a closed account."""
    signup(client)
    link = link_in("account:verify", "camille@example.org")
    assert verify(client, link).status_code == 302
    client.logout()
    User.objects.filter(email="camille@example.org").update(is_active=False)  # closed by staff
    again = client.get(link)
    assert again.status_code == 400 and "déjà servi" in again.content.decode()
    again = client.post(link, {"password": PASSWORD})
    assert again.status_code == 400 and "déjà servi" in again.content.decode()
    assert "_auth_user_id" not in client.session
    assert not User.objects.get(email="camille@example.org").is_active


def test_signing_up_first_with_someone_elses_address_gains_nothing(client, db):
    """Whoever proves the address and knows the password of that sign-up owns the account:
    the owner's own link, with the owner's password, opens it with that password."""
    signup(client, password1="Squatteur-2026-xx", password2="Squatteur-2026-xx")
    signup(client)  # the owner of the address, later
    assert verify(client, link_in("account:verify", "camille@example.org")).status_code == 302
    client.logout()
    client.post(
        "/compte/connexion/", {"username": "camille@example.org", "password": "Squatteur-2026-xx"}
    )
    assert "_auth_user_id" not in client.session
    client.post("/compte/connexion/", {"username": "camille@example.org", "password": PASSWORD})
    assert "_auth_user_id" in client.session


def test_password_reset_through_the_outbox(client, demo):
    client.post("/compte/mot-de-passe/oublie/", {"email": demo.citizen.email})
    link = link_in("account:password-reset", demo.citizen.email)
    form = client.get(link, follow=True)
    new = "Un-nouveau-mot-de-passe-62"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert client.login(username=demo.citizen.email, password=new)


def test_my_requests_are_mine_only_and_anonymous_ones_can_be_claimed_later(
    client, demo, make_report
):
    mine = make_report("signalisation", author=demo.citizen)
    other = make_report("signalisation", contact_email="autre@example.org")
    later = make_report("signalisation", contact_email=demo.citizen.email)  # made signed out
    client.force_login(demo.citizen)
    page = client.get("/compte/mes-demandes/").content.decode()
    assert mine.reference in page and other.reference not in page and later.reference not in page
    client.post("/compte/mes-demandes/rattacher/")
    page = client.get("/compte/mes-demandes/").content.decode()
    assert later.reference in page and other.reference not in page
    assert Report.objects.get(pk=other.pk).author is None
    assert client.get("/compte/mes-demandes/rattacher/").status_code == 405


def test_my_requests_needs_an_account(client, db):
    response = client.get("/compte/mes-demandes/")
    assert response.status_code == 302 and "/compte/connexion/" in response["Location"]
