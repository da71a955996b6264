"""The demo data command: complete, idempotent, and refused in production."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import OrganisationAdmin, ServiceMembership, User
from accounts.permissions import actor_for
from organisations.models import Competence, Organisation, Service
from territory.models import Commune

pytestmark = pytest.mark.django_db


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            User,
            ServiceMembership,
            OrganisationAdmin,
            Service,
            Organisation,
            Commune,
            Competence,
        )
    }


def test_demo_data_has_every_role_and_loading_twice_changes_nothing(capsys):
    call_command("load_demo_data")
    first = counts()
    printed = capsys.readouterr().out
    call_command("load_demo_data")
    assert counts() == first
    assert first["Organisation"] == 15 and first["Commune"] == 39
    roles = {tuple(actor_for(u).roles) for u in User.objects.all()}
    assert roles == {
        ("citizen",),
        ("agent",),
        ("service_manager",),
        ("organisation_admin",),
        ("superuser",),
    }
    assert "citoyenne@libercourt.demo" in printed and "Libercourt-demo-2026" in printed
    libercourt = Organisation.objects.get(slug="libercourt")
    assert libercourt.on_board
    assert set(libercourt.services.values_list("slug", flat=True)) >= {
        "voirie",
        "eclairage-public",
        "espaces-verts",
        "proprete",
        "police-municipale",
        "etat-civil",
        "vie-associative",
        "accueil",
    }
    assert set(Organisation.objects.get(kind="epci").services.values_list("slug", flat=True)) >= {
        "collecte-dechets",
        "eau-assainissement",
    }
    assert not Organisation.objects.get(slug="carvin").on_board


def test_demo_data_is_refused_when_debug_is_off(settings):
    settings.GRC_DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("load_demo_data")
    assert not User.objects.exists()


def test_load_territory_command_is_idempotent(capsys):
    before = counts()
    call_command("load_territory")
    assert counts() == before
    assert "0 created" in capsys.readouterr().out
