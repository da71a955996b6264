"""Pages, admin and API enforce the same rules, role by role."""

import pytest
from django.urls import reverse

from accounts.models import ServiceMembership

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("citizen", 403),
        ("agent", 200),
        ("manager", 200),
        ("lib_admin", 200),
        ("cahc_agent", 200),
        ("superuser", 200),
    ],
)
def test_intranet_is_for_staff(client, demo, who, status):
    client.force_login(getattr(demo, who))
    assert client.get("/intranet/").status_code == status


def test_intranet_asks_anonymous_visitors_to_log_in(client, demo):
    response = client.get("/intranet/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_agent_sees_own_services_and_no_emails(client, demo):
    client.force_login(demo.agent)
    page = client.get("/intranet/").content.decode()
    assert "Voirie – Ville de Libercourt" in page
    assert "Éclairage public – Ville de Libercourt" in page
    assert "Collecte des déchets" not in page
    assert "État civil" not in page
    assert "responsable.voirie@libercourt.demo" not in page  # colleagues' emails are for managers


def test_manager_sees_members_with_emails(client, demo):
    client.force_login(demo.manager)
    page = client.get("/intranet/").content.decode()
    assert "agent.voirie@libercourt.demo" in page
    assert "Éclairage public" not in page


def test_cahc_agent_sees_only_the_agglomeration_service(client, demo):
    client.force_login(demo.cahc_agent)
    page = client.get("/intranet/").content.decode()
    assert (
        "Collecte des déchets – Communauté d&#x27;agglomération" in page
        or "Collecte des déchets" in page
    )
    assert "Voirie" not in page


@pytest.mark.parametrize(
    ("who", "status"),
    [("citizen", 302), ("agent", 200), ("lib_admin", 200), ("superuser", 200)],
)
def test_admin_index_by_role(client, demo, who, status):
    client.force_login(getattr(demo, who))
    response = client.get("/admin/")
    assert response.status_code == status
    if status == 200:
        assert (
            "Administration" in response.content.decode()
            or "administration" in response.content.decode()
        )


def result_list(response) -> str:
    page = response.content.decode()
    start = page.index('id="result_list"')
    return page[start : page.index("</table>", start)]


def test_admin_changelists_are_narrowed(client, demo):
    client.force_login(demo.manager)
    page = result_list(client.get("/admin/organisations/service/"))
    assert "Voirie" in page and "Collecte des déchets" not in page and "État civil" not in page
    assert (
        client.get("/admin/accounts/user/").status_code == 403
    )  # the accounts list is the operator's
    client.force_login(demo.lib_admin)
    page = result_list(client.get("/admin/organisations/service/"))
    assert "État civil" in page and "Collecte des déchets" not in page
    assert client.get(f"/admin/organisations/service/{demo.dechets.pk}/change/").status_code in (
        302,
        403,
    )


def test_manager_edits_own_service_contact_not_another(client, demo):
    client.force_login(demo.manager)
    own = client.get(f"/admin/organisations/service/{demo.voirie.pk}/change/")
    assert own.status_code == 200
    other = client.get(f"/admin/organisations/service/{demo.eclairage.pk}/change/")
    assert other.status_code in (302, 403)


def test_manager_adds_a_member_by_email(client, demo):
    client.force_login(demo.manager)
    response = client.post(
        "/admin/accounts/servicemembership/add/",
        {"email": "citoyenne@libercourt.demo", "service": demo.voirie.pk, "role": "agent"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ServiceMembership.objects.filter(user=demo.citizen, service=demo.voirie).exists()
    # ...but not to a service they do not manage.
    response = client.post(
        "/admin/accounts/servicemembership/add/",
        {"email": "citoyenne@libercourt.demo", "service": demo.eclairage.pk, "role": "agent"},
    )
    assert response.status_code == 200  # form error: not a valid choice
    assert not ServiceMembership.objects.filter(user=demo.citizen, service=demo.eclairage).exists()


def test_api_me_by_role(client, demo):
    assert client.get("/api/me/").status_code == 403
    client.force_login(demo.agent)
    body = client.get("/api/me/").json()
    assert body["roles"] == ["agent"]
    assert {s["service"] for s in body["services"]} == {"voirie", "eclairage-public"}
    client.force_login(demo.cahc_admin)
    body = client.get("/api/me/").json()
    assert body["roles"] == ["organisation_admin"]
    assert body["administered_organisations"] == ["cahc"]


def test_login_with_email_in_any_case(client, demo):
    response = client.post(
        "/compte/connexion/",
        {"username": "Agent.Voirie@Libercourt.DEMO", "password": "Libercourt-demo-2026"},
    )
    assert response.status_code == 302
    client.logout()
    response = client.post(
        "/compte/connexion/", {"username": "agent.voirie@libercourt.demo", "password": "wrong"}
    )
    assert response.status_code == 200
    assert "errors" in response.content.decode()
