"""Transfers between services and organisations, re-routing, statuses: history, mails, rights."""

from html import unescape

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError

from notifications.models import OutboxMail
from reports.services import report_change
from tests.points import PHALEMPIN
from tracking import services
from tracking.models import Event

pytestmark = pytest.mark.django_db


def mails(topic):
    return sorted(OutboxMail.objects.filter(topic=topic).values_list("to", flat=True))


def test_transfer_to_the_cahc_and_back_is_kept_in_the_history(make_report, demo):
    report = make_report("nid-de-poule")  # Libercourt roads
    assert report.service == demo.voirie
    services.request_transfer(
        report,
        to_service=demo.dechets,
        reason="Dépôt de déchets, pas un nid-de-poule.",
        actor=demo.agent,
    )
    report.refresh_from_db()
    assert report.service == demo.dechets and report.organisation == demo.cahc
    # The CAHC's service address and its agents are told, and so is the citizen.
    assert "agent.dechets@cahc.demo" in mails("transfer:service")
    assert demo.dechets.email.lower() in mails("transfer:service")
    assert mails("transfer:citizen") == ["habitant@example.org"]
    # The agglomeration agent can now act on it, the commune agent no longer can.
    with pytest.raises(PermissionDenied):
        services.request_transfer(report, to_service=demo.eclairage, reason="x", actor=demo.agent)
    services.request_transfer(
        report, to_service=demo.voirie, reason="Finalement sur la chaussée.", actor=demo.cahc_agent
    )
    report.refresh_from_db()
    assert report.service == demo.voirie
    history = list(
        report.events.filter(type=Event.Type.TRANSFERRED)
        .order_by("at", "pk")
        .values_list("service_before__slug", "service_after__slug", "note", "actor__email")
    )
    assert history == [
        ("voirie", "collecte-dechets", "Dépôt de déchets, pas un nid-de-poule.", demo.agent.email),
        ("collecte-dechets", "voirie", "Finalement sur la chaussée.", demo.cahc_agent.email),
    ]
    # The reason is internal; the public line only says who handles it now.
    public = report.events.filter(type=Event.Type.TRANSFERRED, is_public=True).last()
    assert public.message == f"Transmis à : {demo.voirie}."  # the organisation named once
    assert public.message.count("Libercourt") == 1
    lines = sorted(
        line
        for body in OutboxMail.objects.filter(topic="transfer:citizen").values_list(
            "body", flat=True
        )
        for line in body.splitlines()
        if "suivie par" in line
    )
    assert lines == [
        f"Votre demande {report.reference} est désormais suivie par : {demo.dechets}, mieux placé"
        " pour la traiter.",
        f"Votre demande {report.reference} est désormais suivie par : {demo.voirie}, mieux placé"
        " pour la traiter.",
    ]


def test_no_transfer_to_an_organisation_not_on_the_portal(make_report, demo):
    from organisations.models import Organisation, Service

    carvin = Organisation.objects.filter(on_board=False).first()
    elsewhere = Service.objects.create(
        organisation=carvin, slug="accueil-t", name="Accueil", email="accueil@carvin.example"
    )
    report = make_report("nid-de-poule")
    with pytest.raises(ValidationError, match="portail"):
        services.request_transfer(report, to_service=elsewhere, reason="Ailleurs", actor=demo.agent)
    assert not Event.objects.filter(type=Event.Type.TRANSFERRED).exists()


def test_only_the_author_gets_the_link_that_shows_their_details(make_report, demo, client):
    """A "me too" follower is told of each step with the public page: the author's key would
    show them the author's email and phone."""
    from reports.services import report_me_too

    report = make_report("nid-de-poule", contact_phone="0612345678")
    report_me_too(report, email="voisin@example.org")
    services.request_set_status(report, status="planned", message="Mardi.", actor=demo.agent)
    sent = {m.to: m.body for m in OutboxMail.objects.filter(topic="status")}
    assert f"?cle={report.access_key}" in sent["habitant@example.org"]
    assert report.access_key not in sent["voisin@example.org"]
    assert f"/signalements/{report.reference}/" in sent["voisin@example.org"]


@pytest.mark.parametrize("who", ["citizen", "cahc_agent", "reception_agent"])
def test_only_agents_handling_a_report_may_transfer_it(make_report, demo, who):
    report = make_report("nid-de-poule")
    with pytest.raises(PermissionDenied):
        services.request_transfer(
            report, to_service=demo.dechets, reason="essai", actor=getattr(demo, who)
        )
    assert not Event.objects.filter(type=Event.Type.TRANSFERRED).exists()


def test_the_organisation_admin_may_transfer(make_report, demo):
    report = make_report("nid-de-poule")
    event = services.request_transfer(
        report, to_service=demo.eau, reason="Fuite", actor=demo.lib_admin
    )
    report.refresh_from_db()
    assert report.service == demo.eau
    assert event.actor_label == "Ville de Libercourt"  # signed by the organisation, not a name


def test_a_transfer_needs_a_reason_and_another_active_service(make_report, demo):
    report = make_report("nid-de-poule")
    with pytest.raises(ValidationError, match="motif"):
        services.request_transfer(report, to_service=demo.dechets, reason="  ", actor=demo.agent)
    with pytest.raises(ValidationError, match="déjà"):
        services.request_transfer(report, to_service=demo.voirie, reason="x", actor=demo.agent)
    demo.dechets.is_active = False
    demo.dechets.save()
    with pytest.raises(ValidationError, match="plus actif"):
        services.request_transfer(report, to_service=demo.dechets, reason="x", actor=demo.agent)


def test_changing_the_category_reroutes_and_tells_the_new_service(make_report, demo, categories):
    report = make_report("nid-de-poule")
    event = report_change(
        report, actor=demo.agent, category=categories["fuite-eau"], note="C'est une fuite."
    )
    report.refresh_from_db()
    assert event.type == Event.Type.REROUTED
    assert report.service == demo.eau and report.organisation == demo.cahc
    assert report.category.slug == "fuite-eau"
    assert event.service_before == demo.voirie and event.service_after == demo.eau
    assert event.data["changes"]["catégorie"][1] == str(categories["fuite-eau"])
    assert [s["step"] for s in event.data["decision"]["trace"]][:2] == ["territoire", "compétence"]
    assert demo.eau.email.lower() in mails("reroute:service")


def test_moving_the_pin_within_the_service_area_keeps_the_service(make_report, demo):
    report = make_report("nid-de-poule")
    event = report_change(report, actor=demo.agent, location=Point(3.0145, 50.4815, srid=4326))
    assert event.type == Event.Type.EDITED and not event.is_public
    report.refresh_from_db()
    assert report.service == demo.voirie
    assert not OutboxMail.objects.filter(topic="reroute:service").exists()


def test_moving_the_pin_outside_the_cahc_is_refused_and_changes_nothing(make_report, demo):
    report = make_report("nid-de-poule")
    report.refresh_from_db()
    before = report.location.clone()
    with pytest.raises(ValidationError, match="Phalempin"):
        report_change(report, actor=demo.agent, location=PHALEMPIN)
    report.refresh_from_db()
    assert report.location.equals_exact(before, 0.001)
    assert report.events.count() == 2


def test_statuses_follow_their_transitions_and_tell_the_citizen(make_report, demo):
    report = make_report("nid-de-poule")
    services.request_set_status(
        report, status="planned", message="Intervention prévue mardi.", actor=demo.agent
    )
    with pytest.raises(ValidationError, match="Expliquez"):
        services.request_set_status(report, status="closed", actor=demo.agent)
    services.request_set_status(report, status="resolved", message="Rebouché.", actor=demo.agent)
    with pytest.raises(ValidationError, match="impossible"):
        services.request_set_status(report, status="planned", actor=demo.agent)
    report.refresh_from_db()
    assert report.status == "resolved" and report.closed_at is not None
    steps = list(
        report.events.filter(type="status").values_list(
            "status_before", "status_after", "actor_label"
        )
    )
    assert steps == [
        ("received", "planned", "Voirie (Ville de Libercourt)"),
        ("planned", "resolved", "Voirie (Ville de Libercourt)"),
    ]
    assert mails("status") == ["habitant@example.org", "habitant@example.org"]
    with pytest.raises(PermissionDenied):
        services.request_set_status(report, status="in_progress", actor=demo.citizen)


def test_answers_and_notes_are_judged_on_the_current_service(make_report, demo):
    """An agent's page loaded before a transfer: once the request has left their service,
    neither a reply nor a note goes through (the request is read again, locked)."""
    report = make_report("nid-de-poule")  # Libercourt roads
    stale = type(report).objects.get(pk=report.pk)
    services.request_transfer(
        report, to_service=demo.dechets, reason="Dépôt sauvage.", actor=demo.agent
    )
    with pytest.raises(PermissionDenied):
        services.request_reply(stale, actor=demo.agent, message="Nous passons demain.")
    with pytest.raises(PermissionDenied):
        services.request_add_note(stale, actor=demo.agent, note="Équipe prévenue.")
    assert not report.events.filter(type__in=[Event.Type.REPLY, Event.Type.NOTE]).exists()
    event = services.request_reply(stale, actor=demo.cahc_agent, message="Collecte prévue.")
    assert event.request_id == report.pk


def test_the_portals_own_timeline_lines_speak_the_readers_language(client, make_report, demo):
    """Routing, transfer and merge lines are said again from the event's data in the reader's
    language; what an agent typed is shown as typed."""
    report = make_report("nid-de-poule", contact_email="a@example.org")
    services.request_transfer(
        report, to_service=demo.dechets, reason="Dépôt sauvage.", actor=demo.agent
    )
    page = f"/signalements/{report.reference}/"
    # The public page titles these lines in plain words (Event.headline, the routing's own
    # service names); the line's text would only repeat them.
    french = unescape(client.get(page).content.decode())
    assert f"Transmis au service {demo.dechets}" in french
    assert "Transmis au service Voirie (Ville de Libercourt)" in french
    assert "Aiguillage" not in french and "Pris en charge par : " not in french
    api = client.get(f"/api/reports/{report.reference}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert f"Transferred to: {demo.dechets}." in [line["message"] for line in api["timeline"]]
