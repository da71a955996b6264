"""Each role sees and does what it should, and nothing more, through accounts.permissions."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import permissions as perm
from accounts.models import OrganisationAdmin, ServiceMembership, User
from organisations.models import Competence, Organisation, Service

pytestmark = pytest.mark.django_db


def request_of(service, author=None):
    """A citizen request as the rules see it (reports and procedures share this shape)."""
    return SimpleNamespace(
        author_id=author.pk if author else None,
        service_id=service.pk,
        organisation_id=service.organisation_id,
    )


def visible_services(user):
    return {f"{s.organisation.slug}:{s.slug}" for s in perm.services_visible_to(user)}


def test_roles_are_named(demo):
    assert perm.actor_for(AnonymousUser()).roles == ["anonymous"]
    assert perm.actor_for(demo.citizen).roles == ["citizen"]
    assert perm.actor_for(demo.agent).roles == ["agent"]
    assert perm.actor_for(demo.manager).roles == ["service_manager"]
    assert perm.actor_for(demo.lib_admin).roles == ["organisation_admin"]
    assert perm.actor_for(demo.cahc_agent).roles == ["agent"]
    assert perm.actor_for(demo.superuser).roles == ["superuser"]


def test_staff_is_derived_from_roles(demo):
    assert not demo.citizen.is_staff
    for user in (demo.agent, demo.manager, demo.lib_admin, demo.cahc_agent, demo.superuser):
        assert user.is_staff
    ServiceMembership.objects.filter(user=demo.agent).delete()
    fresh = User.objects.get(pk=demo.agent.pk)
    assert not fresh.is_staff  # losing every role removes access at once


def test_services_visible_per_role(demo):
    all_services = set(demo.services)
    libercourt_services = {k for k in all_services if k.startswith("libercourt:")}
    cahc_services = {k for k in all_services if k.startswith("cahc:")}
    assert visible_services(AnonymousUser()) == set()
    assert visible_services(demo.citizen) == set()
    assert visible_services(demo.agent) == {"libercourt:voirie", "libercourt:eclairage-public"}
    assert visible_services(demo.manager) == {"libercourt:voirie"}
    assert visible_services(demo.lib_admin) == libercourt_services
    assert visible_services(demo.cahc_agent) == {"cahc:collecte-dechets"}
    assert visible_services(demo.cahc_admin) == cahc_services
    assert visible_services(demo.superuser) == all_services


def test_managing_a_service(demo):
    voirie, eclairage, dechets = demo.voirie, demo.eclairage, demo.dechets
    assert not perm.can_manage_service(demo.citizen, voirie)
    assert not perm.can_manage_service(
        demo.agent, voirie
    )  # an agent works in it, does not manage it
    assert perm.can_view_service(demo.agent, voirie)
    assert perm.can_manage_service(demo.manager, voirie)
    assert not perm.can_manage_service(demo.manager, eclairage)
    assert perm.can_manage_service(demo.lib_admin, eclairage)
    assert not perm.can_manage_service(demo.lib_admin, dechets)  # the CAHC's, not the town's
    assert not perm.can_view_service(demo.lib_admin, dechets)
    assert perm.can_manage_service(demo.cahc_admin, dechets)
    assert not perm.can_view_service(demo.cahc_agent, voirie)
    assert perm.can_manage_service(demo.superuser, dechets)


def test_administering_organisations(demo):
    assert perm.can_administer_organisation(demo.lib_admin, demo.libercourt)
    assert not perm.can_administer_organisation(demo.lib_admin, demo.cahc)
    assert not perm.can_administer_organisation(demo.manager, demo.libercourt)
    assert perm.can_administer_organisation(demo.cahc_admin, demo.cahc)
    assert perm.can_create_service(demo.lib_admin, demo.libercourt)
    assert not perm.can_create_service(demo.manager, demo.libercourt)


def test_competences_are_edited_by_the_agglomeration_only(demo):
    waste_in_libercourt = Competence.objects.get(
        commune__insee="62907", domain__slug="collecte-dechets"
    )
    assert perm.can_edit_competence(demo.cahc_admin, waste_in_libercourt)
    assert not perm.can_edit_competence(demo.lib_admin, waste_in_libercourt)
    assert not perm.can_edit_competence(demo.cahc_agent, waste_in_libercourt)
    assert perm.can_edit_competence(demo.superuser, waste_in_libercourt)


@pytest.mark.parametrize(
    ("who", "voirie_request", "dechets_request"),
    [
        ("citizen_author", True, False),
        ("other_citizen", False, False),
        ("agent", True, False),
        ("manager", True, False),
        ("reception_agent", False, False),
        ("lib_admin", True, False),
        ("cahc_agent", False, True),
        ("cahc_admin", False, True),
        ("superuser", True, True),
        ("anonymous", False, False),
    ],
)
def test_private_request_data_per_role(demo, who, voirie_request, dechets_request):
    other = User.objects.create_user("autre.habitant@libercourt.demo", "x-password-123")
    users = {
        "citizen_author": demo.citizen,
        "other_citizen": other,
        "agent": demo.agent,
        "manager": demo.manager,
        "reception_agent": demo.reception_agent,
        "lib_admin": demo.lib_admin,
        "cahc_agent": demo.cahc_agent,
        "cahc_admin": demo.cahc_admin,
        "superuser": demo.superuser,
        "anonymous": AnonymousUser(),
    }
    user = users[who]
    on_road = request_of(demo.voirie, author=demo.citizen)
    on_bins = request_of(demo.dechets, author=other if who != "citizen_author" else None)
    assert perm.can_view_request_private(user, on_road) is voirie_request
    assert perm.can_view_request_private(user, on_bins) is (
        dechets_request or who == "other_citizen"
    )
    if who not in ("citizen_author", "other_citizen"):
        assert perm.can_act_on_request(user, on_road) is voirie_request
        assert perm.can_act_on_request(user, on_bins) is dechets_request
    else:
        assert not perm.can_act_on_request(user, on_road)  # authors follow, they do not handle


def test_requests_filter_matches_the_object_rule(demo):
    """The queryset filter and the per-object rule agree, on services seen as requests."""
    from django.db.models import F, IntegerField, Value

    as_requests = Service.objects.annotate(
        service_id=F("pk"), author_id=Value(None, output_field=IntegerField())
    )
    for user in (demo.agent, demo.lib_admin, demo.cahc_agent, demo.citizen, demo.superuser):
        filtered = set(
            as_requests.filter(perm.requests_filter_for(user)).values_list("pk", flat=True)
        )
        by_rule = {
            s.pk
            for s in Service.objects.all()
            if perm.can_view_request_private(user, request_of(s))
        }
        assert filtered == by_rule, user


def test_inactive_user_has_no_role(demo):
    demo.lib_admin.is_active = False
    perm.forget_actor(demo.lib_admin)
    assert perm.actor_for(demo.lib_admin).roles == ["anonymous"]
    assert not perm.can_administer_organisation(demo.lib_admin, demo.libercourt)


def test_actor_is_loaded_once_per_user_object(demo, django_assert_num_queries):
    user = User.objects.get(pk=demo.lib_admin.pk)
    with django_assert_num_queries(2):
        perm.can_administer_organisation(user, demo.libercourt)
        perm.can_manage_service(user, demo.voirie)
        assert user.is_staff


def test_roles_rows_are_unique(demo):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceMembership.objects.create(user=demo.agent, service=demo.voirie)
    with pytest.raises(IntegrityError), transaction.atomic():
        OrganisationAdmin.objects.create(
            user=demo.lib_admin, organisation=Organisation.objects.get(slug="libercourt")
        )


def test_token_refusals_speak_the_clients_language(demo, rf):
    """API clients read why a token is refused (the 401's reason): French first, English when
    asked, like every other text of the portal."""
    from django.utils import translation

    from accounts.authentication import AuthenticationError, token_for_request
    from accounts.services import api_token_create, api_token_revoke

    token, _secret = api_token_create(service=demo.eau, name="QGIS", scopes=["layers:read"])
    api_token_revoke(token=token)
    assert perm.token_refusal(token) == "Jeton d'API révoqué ou expiré."
    unknown = rf.get("/", HTTP_AUTHORIZATION="Bearer grc_inconnu")
    with translation.override("en"):
        assert perm.token_refusal(token) == "API token revoked or expired."
        with pytest.raises(AuthenticationError, match="Unknown API token"):
            token_for_request(unknown)
