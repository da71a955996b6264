"""The citizen's side of a report once sent: writing to the service and hearing back, photos,
"still a problem", following, an address given afterwards; and what an agent is told when
their answer would reach nobody."""

import datetime as dt
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from notifications import services as outbox
from notifications.models import OutboxMail
from reports.models import Photo
from tests.brokers import broker_at
from tests.images import jpeg
from tracking import services
from tracking.models import BannedEmail, Event, Follower

pytestmark = pytest.mark.django_db


def update_url(report, action):
    return reverse("reports:update", args=[report.reference, action])


def page_url(report, key=""):
    url = reverse("reports:detail", args=[report.reference])
    return f"{url}?cle={key}" if key else url


def text(response) -> str:
    return unescape(response.content.decode())


def sent_to(smtp_server, address):
    return [m for m in smtp_server.messages if m["X-Envelope-To"] == address]


@pytest.fixture
def report(make_report):
    return make_report("signalisation", contact_email="habitant@example.org")


def test_a_citizen_reply_reaches_the_service_and_the_answer_comes_back(
    client, report, demo, smtp_server
):
    """The requester (tracking link) answers on the page; the service is mailed and the agent
    reads it in the admin's timeline. The agent answers from the admin; the citizen gets the
    mail (with their tracking link and a link to stop) and sees it on the page."""
    OutboxMail.objects.all().delete()  # the acknowledgement
    response = client.post(
        update_url(report, "message"),
        {"cle": report.access_key, "message": "Le panneau est au coin de la rue Jaurès."},
    )
    assert response.status_code == 302 and response["Location"] == page_url(
        report, report.access_key
    )
    assert outbox.outbox_flush() >= 1
    (to_service,) = sent_to(smtp_server, demo.voirie.email.lower())
    assert to_service["Subject"] == f"Message du demandeur : {report.reference}"
    assert "Le panneau est au coin de la rue Jaurès." in to_service.get_content()
    assert f"/admin/reports/report/{report.pk}/change/" in to_service.get_content()

    # The agent sees it in the admin; the public does not, the requester does.
    client.force_login(demo.agent)
    admin_page = text(client.get(reverse("admin:reports_report_change", args=[report.pk])))
    assert "Le panneau est au coin de la rue Jaurès." in admin_page
    assert "Message du demandeur" in admin_page and "demandeur seulement" in admin_page
    response = client.post(
        reverse("admin:reports_report_act", args=[report.pk, "reply"]),
        {"message": "Merci, l'équipe passe jeudi."},
        follow=True,
    )
    assert "un courriel part vers 1 destinataire" in text(response)
    client.logout()
    smtp_server.messages.clear()
    assert outbox.outbox_flush() == 1
    (to_citizen,) = sent_to(smtp_server, "habitant@example.org")
    body = to_citizen.get_content()
    assert "Merci, l'équipe passe jeudi." in body
    assert f"?cle={report.access_key}" in body
    assert f"/signalements/{report.reference}/desabonnement/" in body

    public = text(client.get(page_url(report)))
    assert "Merci, l'équipe passe jeudi." in public
    assert "rue Jaurès" not in public  # the citizen's words are not public
    own = text(client.get(page_url(report, report.access_key)))
    assert "rue Jaurès" in own and "Votre message" in own
    assert "Message de Voirie (Ville de Libercourt)" in own


def test_the_reporter_may_update_a_stranger_may_not(client, report, make_report, demo):
    data = {"message": "Précision."}
    assert client.post(update_url(report, "message"), data).status_code == 403
    assert client.post(update_url(report, "message"), {**data, "cle": "x" * 24}).status_code == 403
    client.force_login(demo.citizen)  # signed in, but not the author
    assert client.post(update_url(report, "message"), data).status_code == 403
    page = text(client.get(page_url(report)))
    assert "Écrire au service" not in page and "Ajouter une photo" not in page
    # A report hidden by moderation is not even found by a stranger.
    report.is_hidden = True
    report.save(update_fields=["is_hidden"])
    assert client.post(update_url(report, "message"), data).status_code == 404
    assert not Event.objects.filter(type="citizen_reply").exists()
    # Its author, signed in, may (no key needed).
    own = make_report("signalisation", author=demo.citizen)
    assert client.post(update_url(own, "message"), data).status_code == 302
    assert own.events.filter(type="citizen_reply", actor=demo.citizen).exists()


def test_a_double_submit_stores_one_message_and_one_mail_each(client, report):
    data = {"cle": report.access_key, "message": "Encore là.", "submission": "a" * 32}
    client.post(update_url(report, "message"), data)
    client.post(update_url(report, "message"), data)
    assert report.events.filter(type="citizen_reply").count() == 1
    mails = OutboxMail.objects.filter(topic="citizen:citizen_reply")
    assert mails.count() == len(services.service_recipients(report.service))
    assert mails.count() == mails.values("to").distinct().count()  # one each


def test_an_empty_message_is_explained_on_the_page(client, report):
    response = client.post(update_url(report, "message"), {"cle": report.access_key})
    assert response.status_code == 400
    assert "Ce champ est obligatoire" in text(response)


def test_a_photo_added_by_the_reporter_is_checked_stored_and_announced(client, report, settings):
    settings.GRC_PHOTO_MAX_PER_REPORT = 2

    def post(*images):
        files = [SimpleUploadedFile(f"p{n}.jpg", data) for n, data in enumerate(images)]
        return client.post(
            update_url(report, "photos"), {"cle": report.access_key, "photos": files}
        )

    assert post(jpeg()).status_code == 302
    assert Photo.objects.filter(report=report).count() == 1
    assert OutboxMail.objects.filter(topic="citizen:citizen_photo").exists()
    page = text(client.get(page_url(report)))
    assert "Photo ajoutée par le demandeur" in page
    # Not a photo: refused, said on the field; over the limit per report: refused.
    response = post(b"<svg onload=alert(1)>")
    assert response.status_code == 400 and "n'est pas une photo" in text(response)
    response = post(jpeg(), jpeg(colour="blue"))
    assert response.status_code == 400 and "au plus 2 en tout" in text(response)
    assert Photo.objects.filter(report=report).count() == 1


def test_still_a_problem_reopens_within_the_delay_only(client, report, demo, settings):
    settings.GRC_REOPEN_DAYS = 30
    services.request_set_status(report, status="resolved", actor=demo.agent)
    page = text(client.get(page_url(report, report.access_key)))
    assert "Le problème est toujours là ?" in page
    assert "Le problème est toujours là ?" not in text(client.get(page_url(report)))
    response = client.post(
        update_url(report, "reopen"),
        {"cle": report.access_key, "message": "Le panneau est retombé."},
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "in_progress" and report.closed_at is None
    public = text(client.get(page_url(report)))
    assert "Problème toujours présent : la demande est rouverte" in public
    assert "Le panneau est retombé." not in public
    service_mail = OutboxMail.objects.get(topic="citizen:reopened", to=demo.voirie.email.lower())
    assert "Le panneau est retombé." in service_mail.body

    # Resolved again, 31 days ago: refused, and told to make a new report.
    services.request_set_status(report, status="resolved", actor=demo.agent)
    type(report).objects.filter(pk=report.pk).update(
        closed_at=timezone.now() - dt.timedelta(days=31)
    )
    page = text(client.get(page_url(report, report.access_key)))
    assert "résolue depuis plus de 30 jours" in page and "Faire un nouveau signalement" in page
    response = client.post(update_url(report, "reopen"), {"cle": report.access_key})
    assert response.status_code == 400 and "résolue depuis plus de 30 jours" in text(response)
    report.refresh_from_db()
    assert report.status == "resolved"


def test_a_resident_follows_a_report_and_unsubscribes_from_the_mail(client, report, demo):
    page = text(client.get(page_url(report)))
    assert "Connectez-vous pour suivre ce signalement" in page
    assert f"?next=%2Fsignalements%2F{report.reference}%2F" in page  # back to this page
    assert client.post(update_url(report, "follow")).status_code == 403

    client.force_login(demo.citizen)
    assert client.post(update_url(report, "follow")).status_code == 302
    follower = Follower.objects.get(request=report, email=demo.citizen.email)
    assert follower.follows_only and follower.is_me_too
    assert "Ne plus suivre" in text(client.get(page_url(report)))
    client.logout()

    services.request_set_status(report, status="planned", message="Mardi matin.", actor=demo.agent)
    mail = OutboxMail.objects.get(topic="status", to=demo.citizen.email)
    assert report.access_key not in mail.body  # a follower gets the public page only
    link = next(line for line in mail.body.splitlines() if "/desabonnement/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200  # a mail scanner's GET changes nothing
    assert Follower.objects.filter(pk=follower.pk).exists()
    response = client.post("/" + path)
    assert "vous ne recevrez plus de courriel" in text(response)
    assert not Follower.objects.filter(pk=follower.pk).exists()
    # A forged or altered link is not found.
    assert client.post("/" + path[:-3] + "xyz/").status_code == 404
    # The reporter follows by default, and the acknowledgement already carries the link.
    ack = OutboxMail.objects.get(topic="acknowledgement")
    assert "/desabonnement/" in ack.body


def test_the_button_unfollows_a_signed_in_follower(client, report, demo):
    client.force_login(demo.citizen)
    client.post(update_url(report, "follow"))
    client.post(update_url(report, "unfollow"))
    assert not Follower.objects.filter(email=demo.citizen.email).exists()


def test_a_home_is_not_followed_by_strangers(client, make_report, demo):
    report = make_report("bac-non-collecte", contact_email="voisin@example.org")
    client.force_login(demo.citizen)
    assert client.post(update_url(report, "follow")).status_code == 403
    assert "Suivre ce signalement" not in text(client.get(page_url(report)))


def test_an_agent_reply_to_nobody_is_refused_or_published_saying_so(client, make_report, demo):
    report = make_report("signalisation", contact_email="", contact_phone="06 11 22 33 44")
    client.force_login(demo.agent)
    url = reverse("admin:reports_report_act", args=[report.pk, "reply"])
    form = text(client.get(url))
    assert "Personne ne recevra cette réponse par courriel" in form and "06 11 22 33 44" in form

    response = client.post(url, {"message": "Pouvez-vous préciser ?"})
    assert response.status_code == 200
    assert "Rien n'a été envoyé ni publié" in text(response)
    assert not report.events.filter(type="reply").exists()

    response = client.post(
        url, {"message": "Pouvez-vous préciser ?", "publish_unmailed": "on"}, follow=True
    )
    page = text(response)
    assert "Réponse publiée sur la page de suivi seulement : aucun courriel" in page
    assert report.events.get(type="reply").data == {"mailed_to": 0}
    assert not OutboxMail.objects.filter(topic="reply").exists()
    client.logout()
    assert "Pouvez-vous préciser ?" in text(client.get(page_url(report, report.access_key)))


def test_an_anonymous_reporter_adds_an_address_confirmed_by_a_link(client, make_report, demo):
    report = make_report("signalisation", contact_email="")
    page = text(client.get(page_url(report, report.access_key)))
    assert "Recevoir les nouvelles par courriel" in page
    assert "Recevoir les nouvelles par courriel" not in text(client.get(page_url(report)))

    BannedEmail.objects.create(pattern="@spam.example", reason="Abus")
    response = client.post(
        update_url(report, "contact"), {"cle": report.access_key, "email": "x@spam.example"}
    )
    assert response.status_code == 400 and "ne peut plus recevoir" in text(response)

    response = client.post(
        update_url(report, "contact"),
        {"cle": report.access_key, "email": "Tardif@Example.org"},
        follow=True,
    )
    assert "Un lien de confirmation vient d'être envoyé" in text(response)
    assert "tardif@example.org" not in text(response).lower()  # never shown back
    assert not report.followers.exists()  # nothing used before it is confirmed
    mail = OutboxMail.objects.get(topic="contact:confirm")
    assert mail.to == "tardif@example.org" and report.access_key not in mail.body
    link = next(line for line in mail.body.splitlines() if "/adresse/" in line)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert client.get(path).status_code == 200 and not report.followers.exists()
    assert "Adresse confirmée" in text(client.post(path))
    assert report.followers.get().email == "tardif@example.org"

    # The agent's answer now reaches them, with their tracking link.
    services.request_reply(report, actor=demo.agent, message="Réparé demain.")
    reply = OutboxMail.objects.get(topic="reply")
    assert reply.to == "tardif@example.org" and f"?cle={report.access_key}" in reply.body


def test_timeline_in_plain_words_for_citizens_precise_for_agents(client, report, demo):
    services.request_set_status(report, status="in_progress", actor=demo.agent)
    public = text(client.get(page_url(report)))
    for words in (
        "Demande reçue",
        "Transmis au service Voirie (Ville de Libercourt)",
        "Demande prise en charge",
    ):
        assert words in public
    assert "Aiguillage" not in public and "(Portail)" not in public
    own = text(client.get(page_url(report, report.access_key)))
    assert "Votre signalement est bien reçu" in own
    assert "Votre signalement est pris en charge" in own
    client.force_login(demo.agent)
    admin_page = text(client.get(reverse("admin:reports_report_change", args=[report.pk])))
    assert "Aiguillage" in admin_page and "En cours de traitement" in admin_page


def test_updates_are_rate_limited_like_other_writes(client, report, settings):
    settings.GRC_RATE_LIMITS = {**settings.GRC_RATE_LIMITS, "update": [(2, 60)]}
    for n in range(2):
        data = {"cle": report.access_key, "message": f"Message {n}"}
        assert client.post(update_url(report, "message"), data).status_code == 302
    response = client.post(
        update_url(report, "message"), {"cle": report.access_key, "message": "De trop"}
    )
    assert response.status_code == 429 and "Trop d'envois" in text(response)
    assert "De trop" in text(response)  # what was typed is kept
    assert report.events.filter(type="citizen_reply").count() == 2


def test_a_broker_outage_loses_no_update(
    client, report, demo, smtp_server, stopped_redis_url, django_capture_on_commit_callbacks
):
    with (
        broker_at(stopped_redis_url),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            update_url(report, "message"),
            {"cle": report.access_key, "message": "Toujours dangereux."},
        )
    assert response.status_code == 302
    assert report.events.filter(type="citizen_reply").exists()
    mail = OutboxMail.objects.get(topic="citizen:citizen_reply", to=demo.voirie.email.lower())
    assert mail.state == "pending"
    outbox.outbox_flush()
    assert sent_to(smtp_server, demo.voirie.email.lower())


def test_a_key_or_mailed_link_of_one_report_acts_on_no_other(client, report, make_report, demo):
    """The tracking key, the unsubscribe link and the address link of report A are refused on
    report B (same shape of URL, B's reference)."""
    other = make_report("signalisation", contact_email="autre@example.org")
    data = {"cle": report.access_key, "message": "Sur la mauvaise demande."}
    assert client.post(update_url(other, "message"), data).status_code == 403
    assert not other.events.filter(type="citizen_reply").exists()

    token = services.unsubscribe_token(report, "habitant@example.org")
    assert (
        client.post(reverse("reports:unsubscribe", args=[other.reference, token])).status_code
        == 404
    )
    assert (
        client.post(reverse("reports:unsubscribe", args=[report.reference, token])).status_code
        == 200
    )
    assert not report.followers.filter(email="habitant@example.org").exists()
    assert other.followers.filter(email="autre@example.org").exists()

    anonymous = make_report("signalisation", contact_email="")
    client.post(
        update_url(anonymous, "contact"), {"cle": anonymous.access_key, "email": "a@example.org"}
    )
    link = (
        OutboxMail.objects.get(topic="contact:confirm").body.split("/adresse/", 1)[1].split("/")[0]
    )
    url = reverse("reports:contact", args=[other.reference, link])
    assert client.post(url).status_code == 404
    assert not other.followers.filter(email="a@example.org").exists()


def test_a_submission_key_sent_again_elsewhere_suppresses_nothing(client, report, make_report):
    """The one-off key only recognises the same form on the same request: reused with another
    form, or on another report, the update is stored and the service told."""
    page = text(client.get(page_url(report, report.access_key)))
    keys = re.findall(r'name="submission" value="([0-9a-f]+)"', page)
    assert len(keys) >= 2 and len(set(keys)) == len(keys)  # one key per form

    key = "c" * 32
    files = [SimpleUploadedFile("p.jpg", jpeg())]
    client.post(
        update_url(report, "photos"), {"cle": report.access_key, "photos": files, "submission": key}
    )
    response = client.post(
        update_url(report, "message"),
        {"cle": report.access_key, "message": "Après la photo.", "submission": key},
    )
    assert response.status_code == 302
    assert report.events.filter(type="citizen_reply", message="Après la photo.").exists()

    other = make_report("signalisation", contact_email="autre@example.org")
    data = {"cle": other.access_key, "message": "Autre demande.", "submission": key}
    assert client.post(update_url(other, "message"), data).status_code == 302
    assert other.events.filter(type="citizen_reply").count() == 1


def test_only_the_first_confirmed_address_becomes_the_requesters(client, make_report):
    report = make_report("signalisation", contact_email="")
    for email in ("premier@example.org", "second@example.org"):
        client.post(update_url(report, "contact"), {"cle": report.access_key, "email": email})
    paths = {
        mail.to: "/"
        + next(line for line in mail.body.splitlines() if "/adresse/" in line)
        .split("://", 1)[1]
        .split("/", 1)[1]
        for mail in OutboxMail.objects.filter(topic="contact:confirm")
    }
    assert "Adresse confirmée" in text(client.post(paths["premier@example.org"]))
    response = text(client.post(paths["second@example.org"]))
    assert "Une adresse est déjà enregistrée pour cette demande." in response
    assert list(report.followers.values_list("email", flat=True)) == ["premier@example.org"]


def test_a_tracking_link_passed_around_is_rate_limited_per_report(client, report, settings):
    """Changing addresses does not give fresh quota for mailing one report's service."""
    settings.GRC_RATE_LIMITS = {**settings.GRC_RATE_LIMITS, "update": [(2, 60)]}
    for n, address in enumerate(("192.0.2.1", "192.0.2.2", "192.0.2.3")):
        response = client.post(
            update_url(report, "message"),
            {"cle": report.access_key, "message": f"Message {n}"},
            REMOTE_ADDR=address,
        )
        assert response.status_code == (429 if n == 2 else 302)
    assert report.events.filter(type="citizen_reply").count() == 2
