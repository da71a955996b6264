"""A resident creates an account in Chromium, verifies it (the link asks for the password
chosen at sign-up) and finds their requests."""

import re

import pytest

from notifications.models import OutboxMail

from .conftest import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_up_verify_and_my_requests(page, demo, make_report):
    earlier = make_report("signalisation", contact_email="dominique@example.org")
    page.goto("/compte/inscription/")
    assert axe_violations(page) == []
    page.fill("#id_email", "dominique@example.org")
    page.fill("#id_password1", "Tilleuls-du-62820")
    page.fill("#id_password2", "Tilleuls-du-62820")
    with page.expect_navigation():
        page.get_by_role("button", name="Créer mon compte").click()
    assert "Vérifiez votre adresse" in page.content()
    body = OutboxMail.objects.get(to="dominique@example.org", topic="account:verify").body
    link = re.search(r"https?://\S+", body).group(0)
    page.goto(link.split("localhost:8000", 1)[-1])
    # The link opens a page asking for the password chosen at sign-up; it changes nothing.
    assert page.get_by_role("heading", name="Activer votre compte").is_visible()
    assert "dominique@example.org" in page.locator("main").inner_text()
    assert axe_violations(page) == []
    password = page.get_by_label("Le mot de passe choisi lors de l'inscription")
    password.fill("Un-autre-mot-de-passe")
    with page.expect_navigation():
        page.get_by_role("button", name="Activer mon compte").click()
    assert "ne correspond pas à cette inscription" in page.get_by_role("alert").inner_text()
    assert axe_violations(page) == []
    password.fill("Tilleuls-du-62820")
    with page.expect_navigation():
        password.press("Enter")  # sent by the keyboard, without any script
    assert page.url.endswith("/compte/mes-demandes/")
    assert "Votre adresse est vérifiée" in page.get_by_role("status").inner_text()
    assert earlier.reference in page.locator("table").inner_text()
    assert axe_violations(page) == []
    assert page.console_errors == []
