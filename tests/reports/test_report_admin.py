"""Agents act on reports from the admin through the shared services, within their rights."""

import pytest
from django.urls import reverse

from reports.models import Report
from tracking.models import Event

pytestmark = pytest.mark.django_db


def act_url(report, action):
    return reverse("admin:reports_report_act", args=[report.pk, action])


def test_an_agent_transfers_a_report_to_the_cahc_from_the_admin(client, make_report, demo):
    report = make_report()
    client.force_login(demo.agent)
    form = client.get(act_url(report, "transfer"))
    assert form.status_code == 200
    assert "Collecte des déchets" in form.content.decode()
    response = client.post(
        act_url(report, "transfer"),
        {"to_service": demo.dechets.pk, "reason": "Dépôt sauvage."},
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.service == demo.dechets
    assert report.events.get(type="transferred").note == "Dépôt sauvage."
    # The agent no longer handles it: the admin no longer finds it for them (redirect to index).
    page = client.get(reverse("admin:reports_report_change", args=[report.pk]))
    assert page.status_code == 302 and page["Location"] == reverse("admin:index")


def test_an_empty_reason_is_shown_on_the_form(client, make_report, demo):
    report = make_report()
    client.force_login(demo.agent)
    response = client.post(
        act_url(report, "transfer"), {"to_service": demo.dechets.pk, "reason": ""}
    )
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.content.decode()
    assert not Event.objects.filter(type="transferred").exists()


def test_an_agent_of_another_service_cannot_act(client, make_report, demo):
    report = make_report()
    client.force_login(demo.cahc_agent)
    assert client.get(act_url(report, "status")).status_code == 404
    response = client.post(act_url(report, "reply"), {"message": "Bonjour"})
    assert response.status_code == 404
    assert not Event.objects.filter(type="reply").exists()


def test_the_change_page_shows_the_routing_trace_and_rerouting_works(
    client, make_report, demo, categories
):
    report = make_report()
    client.force_login(demo.agent)
    url = reverse("admin:reports_report_change", args=[report.pk])
    html = client.get(url).content.decode()
    assert "territoire" in html and "compétence" in html  # the trace, step by step
    report.refresh_from_db()
    response = client.post(
        url, {"category": categories["fuite-eau"].pk, "location": report.location.ewkt}
    )
    assert response.status_code == 302
    report = Report.objects.get(pk=report.pk)
    assert report.service == demo.eau
    assert report.events.filter(type="rerouted").exists()


def test_the_admin_list_shows_only_the_reports_an_agent_handles(client, make_report, demo):
    mine = make_report()
    other = make_report("fuite-eau")
    client.force_login(demo.agent)
    html = client.get(reverse("admin:reports_report_changelist")).content.decode()
    assert mine.reference in html and other.reference not in html


def test_a_correction_outside_the_cahc_is_shown_on_the_form_and_changes_nothing(
    client, make_report, demo
):
    from django.contrib.gis.geos import Point

    report = make_report()
    client.force_login(demo.agent)
    url = reverse("admin:reports_report_change", args=[report.pk])
    phalempin = Point(3.0225, 50.5135, srid=4326)
    response = client.post(url, {"category": report.category_id, "location": phalempin.ewkt})
    assert response.status_code == 200  # the form again, with the reason on the field
    assert "Phalempin" in response.content.decode()
    report.refresh_from_db()
    assert report.commune.insee == "62907" and report.service == demo.voirie
    assert not report.events.filter(type__in=["rerouted", "edited"]).exists()
