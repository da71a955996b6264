"""Organisations, services, domains and competences as data."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from organisations.hours import describe_opening_hours, is_open_at, validate_opening_hours
from organisations.models import Competence, Domain, Organisation, Service
from organisations.selectors import who_does_what
from organisations.services import organisations_load
from territory.models import Commune, Epci

PARIS = ZoneInfo("Europe/Paris")


def slot(day, opens, closes):
    return {"day": day, "opens": opens, "closes": closes}


def test_opening_hours_said_in_plain_french():
    hours = [slot(d, "08:30", "12:00") for d in range(5)] + [
        slot(d, "13:30", "17:30") for d in range(5)
    ]
    hours.append(slot(5, "09:00", "12:00"))
    assert describe_opening_hours(hours) == (
        "du lundi au vendredi : 8 h 30 – 12 h, 13 h 30 – 17 h 30 ; samedi : 9 h – 12 h"
    )
    assert describe_opening_hours([slot(0, "09:00", "12:00"), slot(2, "09:00", "12:00")]) == (
        "lundi et mercredi : 9 h – 12 h"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "lundi 9h-12h",
        [{"day": 7, "opens": "09:00", "closes": "12:00"}],
        [{"day": 0, "opens": "9h", "closes": "12:00"}],
        [{"day": 0, "opens": "12:00", "closes": "09:00"}],
        [slot(0, "08:00", "12:00"), slot(0, "11:00", "14:00")],
        [{"day": 0, "opens": "09:00"}],
    ],
)
def test_malformed_opening_hours_are_refused(bad):
    with pytest.raises(ValidationError):
        validate_opening_hours(bad)


def test_is_open_at():
    hours = [slot(0, "08:30", "12:00")]
    monday = dt.datetime(2026, 11, 30, 9, 0, tzinfo=PARIS)
    assert is_open_at(hours, monday)
    assert not is_open_at(hours, monday.replace(hour=12))
    assert not is_open_at(hours, monday + dt.timedelta(days=1))


@pytest.mark.django_db
def test_default_competences_follow_the_cahc_statutes():
    libercourt = Commune.objects.get(insee="62907")
    competent = {
        c.domain.slug: c.organisation
        for c in Competence.objects.filter(commune=libercourt).select_related(
            "domain", "organisation"
        )
    }
    assert competent["collecte-dechets"].kind == Organisation.Kind.EPCI
    assert competent["eau-assainissement"].kind == Organisation.Kind.EPCI
    for domain in (
        "voirie",
        "eclairage-public",
        "espaces-verts",
        "proprete",
        "etat-civil",
        "vie-associative",
    ):
        assert competent[domain].commune_id == libercourt.pk, domain
    # Every member commune has one competent body per domain.
    assert Competence.objects.count() == 14 * Domain.objects.count()


@pytest.mark.django_db
def test_reloading_keeps_competences_set_by_staff():
    carvin = Commune.objects.get(insee="62215")
    cahc = Organisation.objects.get(kind="epci")
    lighting = Competence.objects.get(commune=carvin, domain__slug="eclairage-public")
    lighting.organisation = cahc  # say Carvin transferred its public lighting to the CAHC
    lighting.full_clean()
    lighting.save()
    result = organisations_load(epci=Epci.objects.get())
    assert result.competences_created == 0
    lighting.refresh_from_db()
    assert lighting.organisation == cahc


@pytest.mark.django_db
def test_a_commune_cannot_be_competent_on_another_commune():
    carvin = Commune.objects.get(insee="62215")
    libercourt_org = Organisation.objects.get(commune__insee="62907")
    competence = Competence.objects.get(commune=carvin, domain__slug="voirie")
    competence.organisation = libercourt_org
    with pytest.raises(ValidationError, match="propre territoire"):
        competence.full_clean()


@pytest.mark.django_db
def test_one_reception_service_per_organisation(demo):
    with pytest.raises(IntegrityError):
        Service.objects.create(
            organisation=demo.libercourt,
            name="Second accueil",
            slug="accueil-2",
            is_reception=True,
            email="x@libercourt.demo",
            phone="0",
            address="x",
        )


@pytest.mark.django_db
def test_who_does_what_in_libercourt_names_the_handling_service(
    demo, django_assert_max_num_queries
):
    libercourt = Commune.objects.get(insee="62907")
    with django_assert_max_num_queries(4):
        rows = {row.domain.slug: row for row in who_does_what(libercourt)}
    assert rows["collecte-dechets"].organisation == demo.cahc
    assert rows["collecte-dechets"].service == demo.dechets
    assert rows["voirie"].service == demo.voirie
    assert rows["mobilier-urbain"].service.slug == "espaces-verts"


@pytest.mark.django_db
def test_service_acknowledgement_details_are_quotable(demo):
    said = demo.etat_civil.opening_hours_display
    assert said.startswith(
        "du lundi au vendredi : 8 h 30 – 12 h, 13 h 30 – 17 h 30 ; samedi : 9 h – 12 h"
    )
    assert (
        demo.etat_civil.email and demo.etat_civil.phone and "Libercourt" in demo.etat_civil.address
    )


@pytest.mark.django_db
def test_public_organisations_api_lists_contacts_without_staff(
    client, demo, django_assert_max_num_queries
):
    with django_assert_max_num_queries(5):
        response = client.get("/api/organisations/")
    assert response.status_code == 200
    orgs = {o["slug"]: o for o in response.json()}
    assert len(orgs) == 15
    assert orgs["cahc"]["kind"] == "epci" and orgs["cahc"]["on_board"] is True
    assert orgs["libercourt"]["insee"] == "62907"
    services = {s["slug"]: s for s in orgs["libercourt"]["services"]}
    assert services["voirie"]["opening_hours_text"].startswith("du lundi au vendredi")
    body = response.content.decode()
    assert "karim" not in body.lower() and "agent.voirie" not in body  # no staff member leaks
