"""On a phone, the reporter answers the service and adds a photo from their tracking page."""

import pytest

from reports.models import Photo
from tests.images import jpeg

from .conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reply_and_photo_on_the_tracking_page_at_390_px(page, demo, make_report, tmp_path):
    from tracking import services

    report = make_report("signalisation", contact_email="")
    services.request_reply(
        report, actor=demo.agent, message="Quel est le numéro du panneau ?", publish_unmailed=True
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/signalements/{report.reference}/?cle={report.access_key}")
    assert "Quel est le numéro du panneau ?" in page.locator(".timeline").inner_text()

    page.get_by_label("Votre message au service").fill("C'est le panneau n° 12, côté école.")
    page.get_by_role("button", name="Envoyer le message").click()
    page.wait_for_selector("text=Votre message est envoyé")
    timeline = page.locator(".timeline").inner_text()
    assert "Votre message" in timeline and "côté école" in timeline

    photo = tmp_path / "panneau.jpg"
    photo.write_bytes(jpeg(800, 600))
    page.get_by_label("Photos à ajouter").set_input_files(str(photo))
    page.get_by_role("button", name="Ajouter les photos").click()
    page.wait_for_selector("text=Vos photos sont ajoutées")
    assert Photo.objects.filter(report=report).count() == 1
    assert page.locator(".photos img").count() == 1
    assert "Vous avez ajouté une photo" in page.locator(".timeline").inner_text()

    page.screenshot(path=pytest.screenshot_dir / "conversation-390.png", full_page=True)
    for phone in (390, 320):  # the forms fit the narrowest phone too
        page.set_viewport_size({"width": phone, "height": 700})
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width == [phone, phone]
    page.set_viewport_size({"width": 390, "height": 844})
    assert axe_violations(page) == []
    assert page.console_errors == []
