"""Phone numbers a citizen can call: tel: links (E.164) shown as written, the town hall's
number wherever the portal says to call it, and the on-call number where a message says to
call it."""

import re
from html import unescape

import pytest
from django.core.exceptions import ValidationError

from core.phones import tel_uri
from notifications.models import OutboxMail
from routing.selectors import handling_message
from tests.points import TOWN_HALL
from tracking.models import BannedEmail, Event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("written", "uri"),
    [
        ("03 21 00 00 10", "tel:+33321000010"),
        ("03.21.74.76.00", "tel:+33321747600"),
        ("03-21-74-76-00", "tel:+33321747600"),
        ("+33 3 21 74 76 00", "tel:+33321747600"),
        ("+33 (0)3 21 74 76 00", "tel:+33321747600"),
        ("0033 3 21 74 76 00", "tel:+33321747600"),
        ("06\u00a012\u00a034\u00a056\u00a078", "tel:+33612345678"),
        ("3939", "tel:3939"),
        ("17", "tel:17"),
        ("", ""),
        ("non communiqué", ""),
    ],
)
def test_numbers_become_e164_tel_uris(written, uri):
    assert tel_uri(written) == uri


def links(page: str) -> dict[str, str]:
    """Shown text -> href of every tel: link of the page."""
    return {
        text: href
        for href, text in re.findall(r'<a href="(tel:[^"]+)" class="tel">([^<]+)</a>', page)
    }


def test_contacts_page_links_every_phone_and_gives_the_on_call_number(client, demo):
    page = unescape(client.get("/contacts/").content.decode())
    tel = links(page)
    # each service's number, as written, dialled in E.164
    assert tel["03 21 00 00 10"] == "tel:+33321000010"  # Libercourt's roads
    assert tel["03 21 00 01 20"] == "tel:+33321000120"  # the CAHC's water
    # the water service's on-call number, labelled as such
    assert tel["03 21 00 01 99"] == "tel:+33321000199"
    water = page.split("<h3>Eau et assainissement</h3>", 1)[1].split("</li>", 1)[0]
    assert "Astreinte" in water and "03 21 00 01 99" in water
    # a town hall not on the portal: its number from the open data
    assert tel["03 21 74 76 00"] == "tel:+33321747600"  # Carvin
    assert not any(href.count("+") != 1 for href in tel.values())


def test_who_does_what_gives_the_town_hall_number_where_it_says_to_call_it(client, demo):
    page = unescape(client.get("/qui-fait-quoi/?commune=62215").content.decode())  # Carvin
    assert "Contactez l'accueil de la mairie : " in page
    assert page.count('<a href="tel:+33321747600" class="tel">03 21 74 76 00</a>') >= 2
    assert "Contactez l'accueil de la mairie." not in page  # never without the number
    # in Libercourt, each service's own number
    page = unescape(client.get("/qui-fait-quoi/?commune=62907").content.decode())
    assert '<a href="tel:+33321000010" class="tel">03 21 00 00 10</a>' in page


def test_a_message_saying_to_call_the_on_call_number_gives_it(
    demo, categories, make_report, client
):
    water_leak = categories["fuite-eau"]
    assert "{astreinte}" in water_leak.public_message  # the category's text, as staff wrote it
    # before the place is chosen: the one on-call number of the services of its domain
    assert "numéro d'astreinte (03 21 00 01 99)" in handling_message(water_leak)
    # on the report form, before a place: the same number, in the problem's hint
    form = unescape(client.get("/signaler/?category=fuite-eau").content.decode())
    assert "numéro d'astreinte (03 21 00 01 99)" in form
    report = make_report("fuite-eau", contact_email="riveraine@example.org")
    assert report.service == demo.eau
    created = report.events.get(type=Event.Type.CREATED)
    assert "numéro d'astreinte (03 21 00 01 99)" in created.message
    assert created.is_public
    mail = OutboxMail.objects.get(reference=report.reference, topic="acknowledgement")
    assert "numéro d'astreinte (03 21 00 01 99)" in mail.body
    assert "{astreinte}" not in mail.body
    # the tracking page dials the handling service in E.164, as the contacts page does
    page = unescape(client.get(f"/signalements/{report.reference}/").content.decode())
    assert links(page)["03 21 00 01 20"] == "tel:+33321000120"
    # two numbers in the domain (another organisation's service): before a place, the
    # contacts page; placed, the number of the service found there
    demo.voirie.on_call_phone = "03 21 00 09 99"
    demo.voirie.save(update_fields=["on_call_phone"])
    demo.voirie.domains.add(water_leak.domain)
    assert "numéro d'astreinte (voir la page Contacts)" in handling_message(water_leak)
    where = TOWN_HALL.transform(4326, clone=True)
    form = unescape(
        client.get(f"/signaler/?category=fuite-eau&lon={where.x}&lat={where.y}").content.decode()
    )
    assert demo.eau.name in re.search(r'id="who-handles">(.*?)</p>', form, re.S).group(1)
    assert "numéro d'astreinte (03 21 00 01 99)" in form
    demo.voirie.domains.remove(water_leak.domain)
    # without an on-call number, the message sends to the contacts page instead of a blank
    demo.eau.on_call_phone = ""
    demo.eau.save(update_fields=["on_call_phone"])
    other = make_report("fuite-eau", contact_email="riveraine@example.org")
    assert "numéro d'astreinte (voir la page Contacts)" in (
        other.events.get(type=Event.Type.CREATED).message
    )


def test_a_banned_address_is_given_the_town_halls_number(demo, make_report):
    BannedEmail.objects.create(pattern="troll@example.org", reason="Insultes répétées")
    with pytest.raises(ValidationError) as refused:
        make_report("signalisation", contact_email="troll@example.org")
    # Libercourt's reception service on the portal (demo number)
    assert "contactez l'accueil de la mairie au 03 21 00 00 00" in str(refused.value)
