"""The tracking page of a report, role by role: public part for all, personal data for few."""

import pytest
from django.urls import reverse

from tracking import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(make_report, demo):
    report = make_report(contact_phone="06 12 34 56 78")
    services.request_add_note(report, note="Voir avec l'entreprise Dupont.", actor=demo.agent)
    services.request_set_status(
        report, status="planned", message="Intervention mardi matin.", actor=demo.agent
    )
    return report


def page(client, report, key=""):
    url = reverse("reports:detail", args=[report.reference])
    return client.get(url + (f"?cle={key}" if key else ""))


def test_anyone_sees_status_service_and_public_timeline_but_no_personal_data(client, report):
    response = page(client, report)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Intervention programmée" in html and "Intervention mardi matin." in html
    assert "Voirie" in html
    for private in ("habitant@example.org", "06 12 34 56 78", "Dupont", "aiguillage"):
        assert private not in html
    assert response["Cache-Control"] == "private, no-store"


def test_the_tracking_link_shows_the_citizen_their_own_details(client, report):
    html = page(client, report, key=report.access_key).content.decode()
    assert "habitant@example.org" in html and "06 12 34 56 78" in html
    assert "Dupont" not in html  # internal notes stay internal
    assert "habitant@example.org" not in page(client, report, key="wrong-key").content.decode()


@pytest.mark.parametrize(("who", "sees_notes"), [("agent", True), ("cahc_agent", False)])
def test_agents_handling_it_see_notes_and_the_routing_trace(client, report, demo, who, sees_notes):
    client.force_login(getattr(demo, who))
    html = page(client, report).content.decode()
    assert ("Dupont" in html) is sees_notes
    assert ("Pourquoi ce service" in html) is sees_notes
    assert ("habitant@example.org" in html) is sees_notes


def test_a_hidden_report_is_not_found_by_the_public(client, report, demo):
    report.is_hidden = True
    report.save(update_fields=["is_hidden"])
    assert page(client, report).status_code == 404
    assert page(client, report, key=report.access_key).status_code == 200
    client.force_login(demo.agent)
    assert page(client, report).status_code == 200


def test_an_unknown_reference_is_not_found(client, db):
    assert client.get("/signalements/S2026-999999/").status_code == 404


def test_the_live_fragment_answers_304_until_something_changes(
    client, make_report, demo, django_assert_max_num_queries
):
    report = make_report()
    url = f"/signalements/{report.reference}/?fragment=1"
    first = client.get(url)
    assert first.status_code == 200 and "Reçu" in first.content.decode()
    etag = first["ETag"]
    with django_assert_max_num_queries(4):  # report, photos, version
        unchanged = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    services.request_set_status(report, status="planned", message="Mardi.", actor=demo.agent)
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    html = changed.content.decode()
    assert "Intervention programmée" in html and "Mardi." in html
    assert 'data-part="summary"' in html and 'data-part="details"' in html
    assert "<html" not in html  # only the parts, not a page


def test_the_fragment_respects_who_may_see_what(client, make_report, demo):
    report = make_report()
    services.request_add_note(report, note="Note secrète.", actor=demo.agent)
    url = f"/signalements/{report.reference}/?fragment=1"
    assert "Note secrète." not in client.get(url).content.decode()
    public_tag = client.get(url)["ETag"]
    client.force_login(demo.agent)
    handler = client.get(url, HTTP_IF_NONE_MATCH=public_tag)
    assert handler.status_code == 200  # another view, another version
    assert "Note secrète." in handler.content.decode()
    report.is_hidden = True
    report.save(update_fields=["is_hidden"])
    client.logout()
    assert client.get(url, HTTP_IF_NONE_MATCH=public_tag).status_code == 404


@pytest.mark.parametrize(
    "key", ["clé-é", "%C3%A9t%C3%A9", "\u202e", "x" * 500, "%00", "%FF%FE"], ids=repr
)
@pytest.mark.parametrize("suffix", ["", "&fragment=1", "api"])
def test_any_key_in_the_link_is_just_a_wrong_key(client, report, key, suffix):
    """A key with accents, control or undecodable characters used to be a 500 (compared as
    text); it is a wrong key: the public page, never the contact details."""
    if suffix == "api":
        response = client.get(f"/api/reports/{report.reference}/?cle={key}")
    else:
        url = reverse("reports:detail", args=[report.reference])
        response = client.get(f"{url}?cle={key}{suffix}")
    assert response.status_code == 200
    assert "habitant@example.org" not in response.content.decode()
