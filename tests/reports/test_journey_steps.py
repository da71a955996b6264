"""The report journey's steps on the server: placing never validates what is not shown yet,
a tapped point is named from our address table, sending checks everything at once, no consent
box, and what an anonymous reporter is told. With and without the page's script (X-Journey)."""

import html as html_lib
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from addresses.models import Address
from reports.models import Report
from tests.images import jpeg

pytestmark = pytest.mark.django_db

URL = "/signaler/"
SCRIPT = {"HTTP_X_JOURNEY": "1"}  # what static/js/report-form.js sends


@pytest.fixture
def town(demo):
    from addresses.services import demo_addresses_load
    from gis_layers.services import demo_layers_load
    from routing.services import categories_load

    demo_layers_load()
    categories_load()
    demo_addresses_load()
    return demo


def tap_near(label: str) -> dict:
    """Where a finger lands on the map, one metre from an address of the demo table."""
    point = Address.objects.get(label=label).location.clone()
    point.x += 1
    point.transform(4326)
    return {"lon": f"{point.x:.6f}", "lat": f"{point.y:.6f}"}


def text(response) -> str:
    return html_lib.unescape(response.content.decode())


def summary_links(page: str) -> list[str]:
    box = re.search(r'id="form-errors".*?</ul>', page, re.S)
    return re.findall(r'<li><a href="#([^"]+)">', box.group(0)) if box else []


@pytest.mark.parametrize(
    ("slug", "question"), [("depot-sauvage", "Quel volume"), ("arbre-dangereux", "gêne-t-il")]
)
def test_placing_or_searching_never_shows_an_error_for_a_question_not_answered_yet(
    client, town, slug, question
):
    """Issue 14, item 2: a map tap or an address search with a category whose question is
    required said "Ce champ est obligatoire" before the question was even on the page."""
    spot = tap_near("3 Rue Jean-Jaurès 62820 Libercourt")
    for headers in ({}, SCRIPT):
        tapped = text(client.post(URL, {"category": slug, "action": "locate", **spot}, **headers))
        searched = text(
            client.post(
                URL,
                {"category": slug, "action": "search", "address_query": "3 rue jean jaures"},
                **headers,
            )
        )
        choice = re.search(r'id="address-1" value="([^"]+)"', searched).group(1)
        picked = text(
            client.post(
                URL, {"category": slug, "action": "locate", "address_choice": choice}, **headers
            )
        )
        for page in (tapped, searched, picked):
            assert "obligatoire." not in page and "Corrigez" not in page
            assert 'id="form-errors"' not in page and 'aria-invalid="true"' not in page
        for page in (tapped, picked):  # placed: who handles it, and now the question
            assert 'id="who-handles"' in page and question in page
    assert not Report.objects.exists()


def test_a_tapped_point_is_named_from_the_address_table_and_kept_with_the_report(client, town):
    spot = tap_near("3 Rue Jean-Jaurès 62820 Libercourt")
    page = text(client.post(URL, {"action": "locate", **spot}))  # before choosing the problem
    chosen = re.search(r'id="place-chosen".*?</p>', page, re.S).group(0)
    assert "Près du 3 Rue Jean-Jaurès, Libercourt" in chosen
    assert "Choisissez le problème" in page  # who handles it comes with the problem
    label = re.search(r'name="address_label" value="([^"]*)"', page).group(1)
    sent = client.post(
        URL,
        {
            "category": "signalisation",
            "action": "submit",
            **spot,
            "address_label": html_lib.unescape(label),
            "description": "Panneau tordu.",
        },
    )
    assert sent.status_code == 302
    assert Report.objects.get().address_label == "Près du 3 Rue Jean-Jaurès, Libercourt"


def test_the_equipment_found_by_its_number_is_named(client, town):
    page = text(
        client.post(
            URL, {"category": "lampadaire-eteint", "action": "find", "equipment_ref": "EP-0042"}
        )
    )
    chosen = re.search(r'id="place-chosen".*?</p>', page, re.S).group(0)
    assert re.search(r"Équipement :</strong> EP-0042 – \S", chosen)
    assert "Près d" in chosen  # and where it stands


def test_sending_checks_every_step_at_once_with_a_summary_linking_to_each_field(client, town):
    """Issue 14, item 7: all the errors on the first send, in the page's order, each a link
    to its field; the photo hint says one thing; the photos to choose again are named."""
    page = text(client.post(URL, {"category": "depot-sauvage", "action": "submit"}))
    assert summary_links(page) == ["etape-lieu", "id_q_volume", "id_description", "id_photos"]
    assert "Répondez à la question « Quel volume environ ? »." in page
    assert "(obligatoire pour ce problème, 3 au plus)" in page and "facultatif, 3" not in page
    # a category that wants an email: that too, and what was typed is kept
    spot = tap_near("3 Rue Jean-Jaurès 62820 Libercourt")
    photo = SimpleUploadedFile("mat.jpg", jpeg(), content_type="image/jpeg")
    form = {"category": "lampadaire-degrade", "action": "submit", "contact_phone": "0600000000"}
    page = text(client.post(URL, {**form, **spot, "photos": [photo]}))
    assert summary_links(page) == ["id_description", "id_contact_email", "id_photos"]
    assert "La photo choisie (mat.jpg) n'a pas été gardée : choisissez-la à nouveau." in page
    assert 'value="0600000000"' in page
    # with the page's script nothing is reloaded, so the photos stay chosen: nothing to redo
    photo.seek(0)
    answer = client.post(URL, {**form, **spot, "photos": [photo]}, **SCRIPT)
    fragment = text(answer)
    assert fragment.lstrip().startswith("<form") and "<html" not in fragment
    assert summary_links(fragment) == ["id_description", "id_contact_email"]
    assert "mat.jpg" not in fragment and 'data-focus="form-errors"' in fragment
    assert not Report.objects.exists()


def test_no_consent_box_is_asked_of_anyone_only_an_information(client, town):
    """Processing for a public-service mission (RGPD art. 6-1-e): information, not consent."""
    resident = town.citizen
    for who in (None, resident):
        if who:
            client.force_login(who)
        page = text(client.get(URL))
        assert 'type="checkbox"' not in page and "J'ai lu" not in page
        assert "article 6-1-e" in page and "aucun accord ne vous est demandé" in page
    sent = client.post(
        URL,
        {
            "category": "signalisation",
            "action": "submit",
            **tap_near("3 Rue Jean-Jaurès 62820 Libercourt"),
            "description": "Panneau tordu.",
        },
    )
    assert sent.status_code == 302 and Report.objects.get().author == resident


def test_an_acknowledgement_is_promised_only_to_who_gave_an_email(client, town):
    base = {
        "category": "signalisation",
        "action": "submit",
        **tap_near("3 Rue Jean-Jaurès 62820 Libercourt"),
        "description": "Panneau tordu.",
    }
    sent = client.post(URL, {**base, "contact_email": "camille@example.org"})
    page = text(client.get(sent["Location"]))
    assert "Un accusé de réception est envoyé à camille@example.org." in page
    assert 'id="keep-link-url"' not in page
    # anonymous, through the page's script: told where to go, then to keep the link
    answer = client.post(URL, base, **SCRIPT)
    assert answer.status_code == 204
    report = Report.objects.latest("pk")
    location = answer["X-Journey-Location"]
    assert location == f"/signalements/{report.reference}/?cle={report.access_key}"
    page = text(client.get(location))
    assert "accusé de réception" not in page
    assert "gardez le lien de cette page" in page and "Copier le lien" in page
    kept = re.search(r'id="keep-link-url" readonly value="([^"]+)"', page).group(1)
    assert kept == f"http://testserver{location}"
