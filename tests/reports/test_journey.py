"""The reporting journey without JavaScript: every step is a form post a keyboard can make."""

import re
from html import unescape as html_unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reports.models import Report
from tests.images import jpeg
from tracking.models import Follower

pytestmark = pytest.mark.django_db

URL = "/signaler/"


@pytest.fixture
def town(demo):
    """Libercourt's demo layers, categories linked to them, and the demo addresses."""
    from addresses.services import demo_addresses_load
    from gis_layers.services import demo_layers_load
    from routing.services import categories_load

    demo_layers_load()
    categories_load()
    demo_addresses_load()


def step(client, **data):
    response = client.post(URL, data)
    assert response.status_code in (200, 302)
    return response


def value(html: str, name: str) -> str:
    """The value the page carries in its field ``name`` (a hidden input, as the browser posts)."""
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def test_the_form_opens_with_the_place_first_then_problems_grouped_by_domain(client, town):
    html = client.get(URL).content.decode()
    assert '<optgroup label="Éclairage public">' in html
    assert "Lampadaire éteint" in html
    # the place comes first: the map and the address search before the problem
    assert html.index('id="report-map"') < html.index('id="id_address_query"')
    assert html.index('id="id_address_query"') < html.index('id="id_category"')


def test_a_streetlight_reported_through_the_address_search(client, town):
    found = step(
        client, category="lampadaire-eteint", action="search", address_query="3 rue jean jaures"
    ).content.decode()
    choice = re.search(r'name="address_choice" id="address-1" value="([^"]+)"', found).group(1)
    assert choice.endswith("3 Rue Jean-Jaurès 62820 Libercourt")
    placed = step(
        client,
        category="lampadaire-eteint",
        action="locate",
        address_choice=choice.replace("&#x27;", "'"),
    ).content.decode()
    assert "Éclairage public" in placed and 'id="who-handles"' in placed
    lon = value(placed, "lon")
    lat = value(placed, "lat")
    light = re.search(r'name="equipment" id="equipment-(\d+)"', placed).group(1)
    sent = step(
        client,
        category="lampadaire-eteint",
        action="submit",
        lon=lon,
        lat=lat,
        address_label="3 Rue Jean-Jaurès 62820 Libercourt",
        equipment=light,
        description="Le lampadaire devant chez moi est éteint depuis 3 jours.",
        contact_email="camille@example.org",
    )
    assert sent.status_code == 302
    report = Report.objects.get()
    assert sent["Location"] == f"/signalements/{report.reference}/?cle={report.access_key}"
    assert report.equipment_id == int(light) and report.address_label.startswith("3 Rue Jean")
    assert report.service.name == "Éclairage public" and report.channel == "web"
    page = client.get(sent["Location"]).content.decode()
    assert "est bien reçu" in page and "camille@example.org" in page


def test_enter_in_a_text_field_looks_up_what_was_typed_and_never_sends(client, town):
    """Without JavaScript, Enter presses the form's first (hidden) button: it searches the
    address typed, then finds the plate typed, and otherwise shows the page again."""
    base = {
        "category": "lampadaire-eteint",
        "action": "enter",
        "description": "Éteint depuis hier.",
        "contact_email": "camille@example.org",
    }
    found = step(client, **base, address_query="3 rue jean jaures").content.decode()
    assert 'id="address-1"' in found  # searched, as the "Chercher l'adresse" button does
    searched = value(found, "searched")
    assert searched == "3 rue jean jaures"
    # Enter again while the addresses found are offered: the one checked is used
    choice = re.search(r'name="address_choice" id="address-1" value="([^"]+)"', found).group(1)
    located = step(
        client,
        **base,
        address_query="3 rue jean jaures",
        searched=searched,
        address_choice=choice.replace("&#x27;", "'"),
    ).content.decode()
    assert 'id="who-handles"' in located and "3 Rue Jean-Jaurès" in located
    # the address already searched, a plate typed: Enter finds the plate
    placed = step(
        client,
        **base,
        address_query="3 rue jean jaures",
        searched=searched,
        equipment_ref="EP-0042",
    ).content.decode()
    assert 'id="who-handles"' in placed and 'id="address-1"' not in placed
    lon = value(placed, "lon")
    lat = value(placed, "lat")
    # everything filled, nothing new typed: Enter shows the page again, nothing is sent
    again = step(
        client,
        **base,
        lon=lon,
        lat=lat,
        address_query="3 rue jean jaures",
        searched=searched,
        equipment_ref="EP-0042",
        found_ref="EP-0042",
    )
    assert again.status_code == 200 and not Report.objects.exists()


def test_the_number_on_the_equipment_places_the_report(client, town):
    placed = step(
        client, category="lampadaire-eteint", action="find", equipment_ref="ep 0042"
    ).content.decode()
    assert 'id="who-handles"' in placed
    checked = re.search(r'id="equipment-(\d+)" value="\d+" checked>\s*<label[^>]*>([^<]+)<', placed)
    assert checked and checked.group(2).startswith("EP-0042")


def test_who_handles_it_follows_the_owner_of_the_equipment_found(client, town, demo, categories):
    """A CAHC glass point in Libercourt, found by its number for a broken street-furniture
    item (a commune's domain): the page says the CAHC will handle it, as routing will."""
    from django.contrib.gis.geos import Point

    from gis_layers.models import Layer
    from gis_layers.services import layer_replace_features

    glass = Layer.objects.create(
        slug="bornes-r", name="Bornes", owner_organisation=demo.cahc, geometry_type="Point"
    )
    layer_replace_features(
        layer=glass,
        rows=[
            (1, bytes(Point(3.0105, 50.4804, srid=4326).wkb), {"ref": "BAV-901", "owner": "cahc"})
        ],
        source_srid=4326,
        ref_field="ref",
        owner_field="owner",
    )
    categories["mobilier-degrade"].layers.add(glass)
    html = step(
        client, category="mobilier-degrade", action="find", equipment_ref="BAV-901"
    ).content.decode()
    who = re.search(r'id="who-handles">(.*?)</p>', html, re.S).group(1)
    assert "Hénin-Carvin" in who and "Libercourt" not in who


def test_a_point_outside_the_cahc_says_where_it_is_and_offers_no_sending(client, town):
    html = step(
        client, category="nid-de-poule", action="locate", lon="3.0225", lat="50.5135"
    ).content.decode()
    assert "Phalempin" in html
    assert 'value="submit"' not in html


def test_with_the_honeypot_filled_nothing_is_sent(client, town):
    base = dict(
        category="signalisation",
        action="submit",
        lon="3.01054",
        lat="50.480422",
        description="Panneau tordu.",
        contact_email="c@example.org",
    )
    html = step(client, **base, website="http://spam.example").content.decode()
    assert "Envoi refusé" in html and 'role="alert"' in html
    assert not Report.objects.exists()


def test_a_pothole_with_a_photo_through_the_form(client, town):
    photo = SimpleUploadedFile("trou.jpg", jpeg(), content_type="image/jpeg")
    sent = client.post(
        URL,
        dict(
            category="nid-de-poule",
            action="submit",
            lon="3.01054",
            lat="50.480422",
            description="Trou dangereux.",
            photos=[photo],
        ),
    )
    assert sent.status_code == 302
    assert Report.objects.get().photos.count() == 1


def test_a_disguised_photo_is_refused_on_the_form(client, town):
    fake = SimpleUploadedFile("trou.jpg", b"<svg onload=alert(1)>", content_type="image/jpeg")
    html = client.post(
        URL,
        dict(
            category="nid-de-poule",
            action="submit",
            lon="3.01054",
            lat="50.480422",
            description="Trou.",
            photos=[fake],
        ),
    ).content.decode()
    assert "JPEG, PNG ou WebP" in html and not Report.objects.exists()


def test_me_too_instead_of_a_second_report(client, town, make_report):
    first = make_report("signalisation", description="Panneau stop couché.")
    html = step(
        client, category="signalisation", action="locate", lon="3.01056", lat="50.480430"
    ).content.decode()
    assert first.reference in html and "Moi aussi" in html
    done = step(
        client, category="signalisation", metoo=first.reference, contact_email="voisin@example.org"
    )
    assert done["Location"] == f"/signalements/{first.reference}/"
    assert Follower.objects.get(request=first, email="voisin@example.org").is_me_too
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("", "Indiquez votre adresse"),
        ("voisin", "pas valide"),
        ("quelquun@spam.example", "ne peut plus déposer"),
    ],
)
def test_a_bad_me_too_says_why_on_the_same_page(client, town, make_report, email, reason):
    from tracking.models import BannedEmail

    BannedEmail.objects.create(pattern="@spam.example")
    first = make_report("signalisation", description="Panneau stop couché.")
    response = client.post(
        URL,
        {
            "category": "signalisation",
            "lon": "3.01056",
            "lat": "50.480430",
            "description": "Le panneau est encore couché.",
            "metoo": first.reference,
            "contact_email": email,
        },
    )
    html = response.content.decode()
    assert response.status_code == 400 and reason in html
    assert "Le panneau est encore couché." in html  # what was typed is kept
    assert not Follower.objects.filter(request=first, is_me_too=True).exists()


def test_me_too_on_an_unknown_report_says_so_and_keeps_what_was_typed(client, town):
    data = {
        "category": "signalisation",
        "lon": "3.01056",
        "lat": "50.480430",
        "description": "Le panneau est encore couché.",
        "metoo": "LIB-0000-99999",
        "contact_email": "voisine@example.org",
    }
    for headers in ({}, {"HTTP_X_JOURNEY": "1"}):
        response = client.post(URL, data, **headers)
        html = html_unescape(response.content.decode())
        assert response.status_code == 400 and "Ce signalement est introuvable" in html
        assert "Le panneau est encore couché." in html
    assert not Follower.objects.exists()


def test_a_photos_gps_position_is_offered_then_used_only_when_confirmed(client, town):
    from tests.images import exif_with_gps

    photo = SimpleUploadedFile(
        "sur-place.jpg", jpeg(exif=exif_with_gps(3.01054, 50.480422)), content_type="image/jpeg"
    )
    offered = client.post(
        URL, {"category": "signalisation", "action": "photo", "place_photo": photo}
    ).content.decode()
    assert 'id="photo-position"' in offered and 'id="who-handles"' not in offered  # not yet used
    choice = re.search(r'id="photo-spot" value="([^"]+)"', offered).group(1)
    confirmed = step(client, category="signalisation", action="locate", address_choice=choice)
    assert 'id="who-handles"' in confirmed.content.decode()
    plain = SimpleUploadedFile("sans-gps.jpg", jpeg(), content_type="image/jpeg")
    html = client.post(
        URL, {"category": "signalisation", "action": "photo", "place_photo": plain}
    ).content.decode()
    assert "ne contient pas de position" in html


@pytest.mark.parametrize(("lon", "lat"), [("3", "95"), ("3", "-91"), ("200", "50"), ("3", "nan")])
def test_impossible_coordinates_posted_by_hand_are_ignored(client, town, lon, lat):
    html = step(client, category="signalisation", action="locate", lon=lon, lat=lat)
    assert 'id="who-handles"' not in html.content.decode()


def test_routing_refuses_an_impossible_point_without_asking_postgis(categories, db):
    from django.contrib.gis.geos import Point

    from routing.selectors import route_for

    decision = route_for(location=Point(3.0, 95.0, srid=4326), category=categories["signalisation"])
    assert decision.status == "outside" and "impossibles" in decision.message


def test_an_equipment_posted_by_hand_does_not_steer_who_handles_it(client, town, demo):
    """Only an equipment the page offers (the category's public layers, around the place)
    decides: a feature id of another layer, posted by hand, neither routes the report to its
    owner nor names that owner (a private layer's owners are not the public's to probe)."""
    from django.contrib.gis.geos import Point

    from gis_layers.models import Feature, Layer
    from gis_layers.services import layer_replace_features

    hidden = Layer.objects.create(
        slug="reseau-interne",
        name="Réseau interne",
        owner_organisation=demo.cahc,
        geometry_type="Point",
    )
    layer_replace_features(
        layer=hidden,
        rows=[(1, bytes(Point(3.0105, 50.4804, srid=4326).wkb), {"ref": "INT-1", "owner": "cahc"})],
        source_srid=4326,
        ref_field="ref",
        owner_field="owner",
    )
    feature = Feature.objects.get(layer=hidden)
    spot = {"lon": "3.0105", "lat": "50.4804"}
    html = step(
        client, category="mobilier-degrade", action="category", equipment=feature.pk, **spot
    ).content.decode()
    who = re.search(r'id="who-handles">(.*?)</p>', html, re.S).group(1)
    assert "Libercourt" in who and "Hénin-Carvin" not in who
    # the service's number dials from the card (E.164, whatever way staff wrote it)
    assert re.search(r'<a href="tel:\+33\d{9}" class="tel">', who)
