"""A resident creates an account in Chromium, verifies it and finds their requests."""

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
    assert page.url.endswith("/compte/mes-demandes/")
    assert earlier.reference in page.locator("table").inner_text()
    assert axe_violations(page) == []
    assert page.console_errors == []
