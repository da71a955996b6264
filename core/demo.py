"""Demo data for Libercourt: services, their contacts and hours, and one account per role.

Loaded by ``manage.py load_demo_data``; refused unless GRC_DEMO_DATA_ALLOWED (DEBUG or tests),
so that known passwords never reach a production database. Idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import ServiceMembership
from accounts.services import membership_grant, organisation_admin_grant, user_upsert
from addresses.services import demo_addresses_load
from gis_layers.services import demo_layers_load
from organisations.models import Organisation
from organisations.services import organisations_load, service_upsert
from routing.services import categories_load
from territory.models import Epci
from territory.services import territory_load

DEMO_PASSWORD = "Libercourt-demo-2026"  # noqa: S105 - documented in the README, refused in production


def _weekdays(*ranges: tuple[str, str], days=range(5)) -> list[dict]:
    return [{"day": d, "opens": o, "closes": c} for d in days for o, c in ranges]


TOWN_HALL_HOURS = [
    *_weekdays(("08:30", "12:00"), ("13:30", "17:30")),
    {"day": 5, "opens": "09:00", "closes": "12:00"},
]
TECH_HOURS = _weekdays(("08:00", "12:00"), ("13:30", "16:30"))
LIBERCOURT_ADDRESS = "Hôtel de ville\n1 place de l'Hôtel-de-Ville\n62820 Libercourt"
CENTRE_TECHNIQUE = "Centre technique municipal\nRue Jules-Guesde\n62820 Libercourt"
CAHC_ADDRESS = (
    "Communauté d'agglomération d'Hénin-Carvin\n242 boulevard Albert-Schweitzer\n"
    "62110 Hénin-Beaumont"
)

LIBERCOURT_SERVICES = [
    # slug, name, domains, email, phone, address, hours, reception
    (
        "accueil",
        "Accueil de la mairie",
        [],
        "accueil",
        "03 21 00 00 00",
        LIBERCOURT_ADDRESS,
        TOWN_HALL_HOURS,
        True,
    ),
    (
        "voirie",
        "Voirie",
        ["voirie"],
        "voirie",
        "03 21 00 00 10",
        CENTRE_TECHNIQUE,
        TECH_HOURS,
        False,
    ),
    (
        "eclairage-public",
        "Éclairage public",
        ["eclairage-public"],
        "eclairage",
        "03 21 00 00 11",
        CENTRE_TECHNIQUE,
        TECH_HOURS,
        False,
    ),
    (
        "espaces-verts",
        "Espaces verts",
        ["espaces-verts", "mobilier-urbain"],
        "espaces-verts",
        "03 21 00 00 12",
        CENTRE_TECHNIQUE,
        TECH_HOURS,
        False,
    ),
    (
        "proprete",
        "Propreté urbaine",
        ["proprete"],
        "proprete",
        "03 21 00 00 13",
        CENTRE_TECHNIQUE,
        TECH_HOURS,
        False,
    ),
    (
        "police-municipale",
        "Police municipale",
        ["tranquillite-publique"],
        "police-municipale",
        "03 21 00 00 17",
        LIBERCOURT_ADDRESS,
        _weekdays(("08:00", "18:00"), days=range(6)),
        False,
    ),
    (
        "etat-civil",
        "État civil",
        ["etat-civil"],
        "etat-civil",
        "03 21 00 00 20",
        LIBERCOURT_ADDRESS,
        TOWN_HALL_HOURS,
        False,
    ),
    (
        "vie-associative",
        "Vie associative",
        ["vie-associative"],
        "associations",
        "03 21 00 00 30",
        LIBERCOURT_ADDRESS,
        _weekdays(("08:30", "12:00"), ("13:30", "17:00")),
        False,
    ),
]
CAHC_SERVICES = [
    (
        "accueil",
        "Accueil de la CAHC",
        [],
        "accueil",
        "03 21 00 01 00",
        CAHC_ADDRESS,
        _weekdays(("08:30", "12:00"), ("13:30", "17:00")),
        True,
    ),
    (
        "collecte-dechets",
        "Collecte des déchets",
        ["collecte-dechets"],
        "dechets",
        "03 21 00 01 10",
        CAHC_ADDRESS,
        _weekdays(("08:30", "12:00"), ("13:30", "17:00")),
        False,
    ),
    (
        "eau-assainissement",
        "Eau et assainissement",
        ["eau-assainissement"],
        "eau",
        "03 21 00 01 20",
        CAHC_ADDRESS,
        _weekdays(("08:00", "12:00"), ("13:30", "17:00")),
        False,
    ),
]
# The on-call numbers (outside opening hours) that a handling message may quote ({astreinte}).
ON_CALL_PHONES = {"eau-assainissement": "03 21 00 01 99", "voirie": "03 21 00 00 99"}


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    where: str


def _services(org: Organisation, rows, mail_domain: str) -> dict:
    out = {}
    for slug, name, domains, mailbox, phone, address, hours, reception in rows:
        out[slug] = service_upsert(
            organisation=org,
            slug=slug,
            name=name,
            domains=domains,
            email=f"{mailbox}@{mail_domain}",
            phone=phone,
            address=address,
            opening_hours=hours,
            is_reception=reception,
            opening_hours_note="Fermé les jours fériés." if reception else "",
            on_call_phone=ON_CALL_PHONES.get(slug, ""),
        )
    return out


@transaction.atomic
def demo_data_load(*, with_layers: bool = True, territory: bool = True) -> list[DemoAccount]:
    """Load the territory, Libercourt's and the CAHC's services, one account per role and the
    synthetic equipment layers of Libercourt.

    ``territory=False`` keeps a territory already loaded (the tests load it once per session;
    reloading rewrites 40 boundaries and their subdivided parts, half of this function's time).
    """
    if not settings.GRC_DEMO_DATA_ALLOWED:
        raise ImproperlyConfigured(
            "Demo data is refused when DEBUG is off: it creates accounts with published passwords."
        )
    epci = None if territory else Epci.objects.first()
    organisations_load(epci=epci or territory_load().epci)
    libercourt = Organisation.objects.get(commune__insee="62907")
    cahc = Organisation.objects.get(kind=Organisation.Kind.EPCI)
    Organisation.objects.filter(pk__in=[libercourt.pk, cahc.pk]).update(on_board=True)
    Organisation.objects.filter(pk=libercourt.pk).update(
        phone="03 21 00 00 00", email="accueil@libercourt.demo"
    )
    Organisation.objects.filter(pk=cahc.pk).update(
        phone="03 21 00 01 00",
        email="accueil@cahc.demo",
        address=CAHC_ADDRESS,
        website="https://www.agglo-henincarvin.fr/",
    )
    lib = _services(libercourt, LIBERCOURT_SERVICES, "libercourt.demo")
    ca = _services(cahc, CAHC_SERVICES, "cahc.demo")

    agent, manager = ServiceMembership.Role.AGENT, ServiceMembership.Role.MANAGER
    accounts: list[DemoAccount] = []

    def account(email: str, role: str, where: str, first: str, last: str, **kw):
        user, _ = user_upsert(
            email=email, password=DEMO_PASSWORD, first_name=first, last_name=last, **kw
        )
        accounts.append(DemoAccount(email, role, where))
        return user

    account("citoyenne@libercourt.demo", "citoyenne", "—", "Camille", "Martin")
    u = account(
        "agent.voirie@libercourt.demo",
        "agent",
        "Voirie + Éclairage public (Libercourt)",
        "Karim",
        "Benali",
    )
    membership_grant(user=u, service=lib["voirie"], role=agent)
    membership_grant(user=u, service=lib["eclairage-public"], role=agent)
    u = account(
        "responsable.voirie@libercourt.demo",
        "responsable de service",
        "Voirie (Libercourt)",
        "Sophie",
        "Lefebvre",
    )
    membership_grant(user=u, service=lib["voirie"], role=manager)
    u = account(
        "agent.accueil@libercourt.demo",
        "agent",
        "Accueil de la mairie (Libercourt)",
        "Julie",
        "Dubois",
    )
    membership_grant(user=u, service=lib["accueil"], role=agent)
    u = account(
        "admin@libercourt.demo",
        "administrateur d'organisation",
        "Ville de Libercourt",
        "Marc",
        "Lemaire",
    )
    organisation_admin_grant(user=u, organisation=libercourt)
    u = account(
        "agent.dechets@cahc.demo",
        "agent de l'agglomération",
        "Collecte des déchets (CAHC)",
        "Nadia",
        "Moreau",
    )
    membership_grant(user=u, service=ca["collecte-dechets"], role=agent)
    u = account("admin@cahc.demo", "administrateur d'organisation", "CAHC", "Paul", "Durand")
    organisation_admin_grant(user=u, organisation=cahc)
    account(
        "operateur@portail.demo",
        "superutilisateur",
        "toute la plateforme",
        "Alex",
        "Bernard",
        is_superuser=True,
    )
    if with_layers:
        demo_layers_load()
        demo_addresses_load()  # along the demo streets, which the layers just made
    categories_load()
    if with_layers:
        from reports.demo import demo_reports_load

        demo_reports_load()  # at the demo addresses, through the real services
    return accounts
