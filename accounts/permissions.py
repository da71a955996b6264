"""Who may see and do what: the single permission module, used by pages, APIs and the admin.

Every check in the portal goes through a function of this module. Pages call the ``can_*``
functions, querysets are narrowed with the ``*_visible_to`` selectors, DRF uses the adapters in
``accounts.api.permissions`` and the Django admin the ``admin_*`` functions; none of them decides
on its own.

Roles (rows, see ``accounts.models``):
- anonymous: public pages and public data only;
- citizen: an authenticated user with no role; sees their own requests;
- agent: member of one or more services; works the requests of those services;
- service manager: an agent who also manages the service (contact, hours, members);
- organisation administrator: a commune's or the CAHC's; everything of that organisation;
- superuser: the platform operator.
An agglomeration agent is simply an agent of a CAHC service: they see the CAHC's requests, not
the communes' (and the reverse), unless a request is transferred to them.

Requests (reports now, procedures later) are checked through the ``RequestLike`` protocol, so both
kinds share these rules without this module importing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from organisations.models import Competence, Organisation, Service

Action = Literal["view", "add", "change", "delete"]


@dataclass(frozen=True)
class Actor:
    """What a user is, loaded once per user object (two small queries)."""

    user_id: int | None
    is_superuser: bool = False
    service_roles: Mapping[int, str] = field(default_factory=dict)  # service id -> role
    service_organisations: Mapping[int, int] = field(default_factory=dict)  # service id -> org id
    admin_organisations: frozenset[int] = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_staff(self) -> bool:
        return self.is_superuser or bool(self.service_roles) or bool(self.admin_organisations)

    @property
    def services(self) -> frozenset[int]:
        return frozenset(self.service_roles)

    @property
    def managed_services(self) -> frozenset[int]:
        return frozenset(s for s, role in self.service_roles.items() if role == "manager")

    @property
    def organisations(self) -> frozenset[int]:
        """Organisations where the user holds any role."""
        return frozenset(self.service_organisations.values()) | self.admin_organisations

    @property
    def roles(self) -> list[str]:
        """Role names, for display and for the /api/me/ answer."""
        if not self.is_authenticated:
            return ["anonymous"]
        names = []
        if self.is_superuser:
            names.append("superuser")
        if self.admin_organisations:
            names.append("organisation_admin")
        if self.managed_services:
            names.append("service_manager")
        if self.services - self.managed_services:
            names.append("agent")
        return names or ["citizen"]


ANONYMOUS = Actor(user_id=None)
_CACHE_ATTR = "_grc_actor"


def actor_for(user: Any) -> Actor:
    """The actor for a user (or AnonymousUser / None), cached on the user object."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return ANONYMOUS
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    from .models import OrganisationAdmin, ServiceMembership

    rows = ServiceMembership.objects.filter(user_id=user.pk, service__is_active=True).values_list(
        "service_id", "role", "service__organisation_id"
    )
    roles = {service_id: role for service_id, role, _org in rows}
    service_orgs = {service_id: org for service_id, _role, org in rows}
    admin_orgs = frozenset(
        OrganisationAdmin.objects.filter(user_id=user.pk).values_list("organisation_id", flat=True)
    )
    actor = Actor(
        user_id=user.pk,
        is_superuser=bool(user.is_superuser),
        service_roles=roles,
        service_organisations=service_orgs,
        admin_organisations=admin_orgs,
    )
    setattr(user, _CACHE_ATTR, actor)
    return actor


def forget_actor(user: Any) -> None:
    """Drop the cached actor (after roles changed on this user object)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


# --- Site areas ----------------------------------------------------------------------------------


def can_access_intranet(user: Any) -> bool:
    return actor_for(user).is_staff


def can_access_admin(user: Any) -> bool:
    return actor_for(user).is_staff


def can_read_health_details(user: Any) -> bool:
    """The details of /healthz (software versions, worker names, errors, rate limits not
    enforced): those who run the platform or an organisation on it, not agents nor the public
    (who read only whether the portal is up). Monitoring uses HEALTHZ_TOKEN instead."""
    actor = actor_for(user)
    return actor.is_superuser or bool(actor.admin_organisations)


# --- Organisations and services -----------------------------------------------------------------


def can_administer_organisation(user: Any, organisation: Organisation) -> bool:
    actor = actor_for(user)
    return actor.is_superuser or organisation.pk in actor.admin_organisations


def can_view_service(user: Any, service: Service) -> bool:
    """See a service's queue and its members."""
    actor = actor_for(user)
    return (
        actor.is_superuser
        or service.pk in actor.services
        or service.organisation_id in actor.admin_organisations
    )


def can_manage_service(user: Any, service: Service) -> bool:
    """Edit a service's contact details and hours, and manage its members."""
    actor = actor_for(user)
    return (
        actor.is_superuser
        or service.pk in actor.managed_services
        or service.organisation_id in actor.admin_organisations
    )


def can_create_service(user: Any, organisation: Organisation | None = None) -> bool:
    actor = actor_for(user)
    if organisation is None:
        return actor.is_superuser or bool(actor.admin_organisations)
    return can_administer_organisation(user, organisation)


def can_edit_competence(user: Any, competence: Competence | None = None) -> bool:
    """Competences follow the agglomeration's statutes: its administrators and the operator."""
    actor = actor_for(user)
    if actor.is_superuser:
        return True
    epci_admin_orgs = set(
        Organisation.objects.filter(
            pk__in=actor.admin_organisations, kind=Organisation.Kind.EPCI
        ).values_list("epci_id", flat=True)
    )
    if competence is None:
        return bool(epci_admin_orgs)
    return competence.commune.epci_id in epci_admin_orgs


def services_visible_to(user: Any) -> QuerySet[Service]:
    """Services whose queue and members the user may see in the intranet."""
    actor = actor_for(user)
    qs = Service.objects.select_related("organisation")
    if actor.is_superuser:
        return qs
    if not actor.is_staff:
        return qs.none()
    return qs.filter(Q(pk__in=actor.services) | Q(organisation_id__in=actor.admin_organisations))


def organisations_visible_to(user: Any) -> QuerySet[Organisation]:
    """Organisations the user works for (all of them for the operator)."""
    actor = actor_for(user)
    qs = Organisation.objects.all()
    if actor.is_superuser:
        return qs
    return qs.filter(pk__in=actor.organisations)


def memberships_visible_to(user: Any) -> QuerySet:
    from .models import ServiceMembership

    return ServiceMembership.objects.filter(service__in=services_visible_to(user)).select_related(
        "user", "service", "service__organisation"
    )


# --- Requests (reports and procedures) -----------------------------------------------------------


class RequestLike(Protocol):
    """What the rules need to know of a citizen request, whatever its kind."""

    author_id: int | None
    service_id: int | None
    organisation_id: int | None


def _handles(actor: Actor, request: RequestLike) -> bool:
    return (
        actor.is_superuser
        or (request.service_id is not None and request.service_id in actor.services)
        or (
            request.organisation_id is not None
            and request.organisation_id in actor.admin_organisations
        )
    )


def can_view_request_private(user: Any, request: RequestLike) -> bool:
    """The full request, with its personal data: its author and whoever handles it."""
    actor = actor_for(user)
    is_author = actor.is_authenticated and request.author_id == actor.user_id
    return is_author or _handles(actor, request)


def can_act_on_request(user: Any, request: RequestLike) -> bool:
    """Change status, reply, transfer: agents of the handling service and its administrators."""
    return _handles(actor_for(user), request)


def can_update_as_requester(user: Any, request: RequestLike, *, has_key: bool) -> bool:
    """Add to one's own request (a message, a photo, "still a problem", an address to be told
    at): its author signed in, or whoever holds its tracking link (``has_key``: the secret
    compared by the caller), as an anonymous requester has nothing else. Agents answer
    through their own actions, not this one."""
    actor = actor_for(user)
    is_author = actor.is_authenticated and request.author_id == actor.user_id
    return has_key or is_author


def can_follow_request(user: Any, request: RequestLike, *, is_public: bool) -> bool:
    """Be told of a request's public steps by mail ("Suivre"): any signed-in person, for a
    request the public may read (``is_public``: not hidden, and not about someone's home,
    which a stranger must not be told of); its author always."""
    actor = actor_for(user)
    if not actor.is_authenticated:
        return False
    return is_public or request.author_id == actor.user_id


def requests_filter_for(user: Any, *, prefix: str = "") -> Q:
    """A Q narrowing any request queryset to what ``can_view_request_private`` allows."""
    actor = actor_for(user)
    if actor.is_superuser:
        return Q()
    q = Q(pk__in=[])
    if actor.is_authenticated:
        q |= Q(**{f"{prefix}author_id": actor.user_id})
    if actor.services:
        q |= Q(**{f"{prefix}service_id__in": actor.services})
    if actor.admin_organisations:
        q |= Q(**{f"{prefix}organisation_id__in": actor.admin_organisations})
    return q


def requests_export_filter(user: Any) -> Q:
    """Rows a staff member may export: exactly the requests their dashboard counts
    (``stats_organisations``: the organisations they work for, all of them for the operator).
    Personal columns are filled only where ``requests_filter_for`` allows (the handling
    service, the organisation's administrators)."""
    return stats_scope(stats_organisations(user))


def stats_scope(organisations: frozenset[int] | None) -> Q:
    """The requests of ``stats_organisations``, as a filter (None: all)."""
    return Q() if organisations is None else Q(organisation_id__in=organisations)


def heatmap_audience(user: Any) -> tuple[frozenset[int] | None, int, bool]:
    """(organisations, k, public) of a heatmap or of counts per commune: staff count the
    requests of their scope, every cell; anybody else counts only what the public map shows
    (reports not hidden), every request of the territory, cells of fewer than k withheld."""
    from django.conf import settings

    if can_access_intranet(user):
        return stats_organisations(user), 1, False
    return None, settings.GRC_HEATMAP_K, True


def stats_organisations(user: Any) -> frozenset[int] | None:
    """The organisations whose requests a staff member counts in figures, heatmaps and
    exports, as for ``stats_scope``: the organisations they work for (a town's staff their
    town's, the agglomeration's staff the CAHC's); None means every request (the operator).
    One scope for the figures, the export rows and the service filter (``stats_services``)."""
    actor = actor_for(user)
    if actor.is_superuser:
        return None
    if not actor.is_staff:
        return frozenset()
    return actor.organisations


def stats_services(user: Any) -> QuerySet[Service]:
    """The services the statistics' service filter offers: every service of the organisations
    ``stats_organisations`` counts (all of them for the operator), so that any figure of the
    scope can be narrowed to its service."""
    organisations = stats_organisations(user)
    qs = Service.objects.select_related("organisation")
    return qs if organisations is None else qs.filter(organisation_id__in=organisations)


# --- GIS layers ----------------------------------------------------------------------------


def _is_token(principal: Any) -> bool:
    from .models import ApiToken

    return isinstance(principal, ApiToken)


def token_refusal(token: Any) -> str | None:
    """Why an API token may not act at all (None: it may, within its scopes).

    A token acts for its service, like a member of it: revoked or expired, or while its service
    is inactive (``actor_for`` drops the roles in an inactive service the same way), it is
    refused at once, and works again if the service is reactivated. It does not depend on who
    created it: it belongs to the service, whose managers see its creator and revoke it.
    """
    if not token.is_usable:
        return _("Jeton d'API révoqué ou expiré.")
    if not token.service.is_active:
        return _("Jeton d'API inutilisable : son service est désactivé.")
    return None


def principal_organisations(principal: Any, *, scope: str) -> frozenset[int] | None:
    """Organisations a caller acts for; None means all (the operator).

    A token acts for its service's organisation, and only with ``scope`` and while
    ``token_refusal`` has nothing against it; a user for the organisations where they hold a
    role.
    """
    if _is_token(principal):
        if token_refusal(principal) is not None or scope not in principal.scopes:
            return frozenset()
        return frozenset([principal.service.organisation_id])
    actor = actor_for(principal)
    return None if actor.is_superuser else actor.organisations


def layers_filter_for(principal: Any) -> Q:
    """A Q narrowing a layer queryset to what the caller may read.

    Public layers are open; an internal layer is read by its owner organisation; a shared layer by
    its owner and the organisations it is shared with.
    """
    orgs = principal_organisations(principal, scope="layers:read")
    if orgs is None:
        return Q()
    q = Q(visibility="public")
    if orgs:
        q |= Q(owner_organisation_id__in=orgs) | Q(visibility="shared", shared_with__in=orgs)
    return q


class LayerLike(Protocol):
    pk: int
    visibility: str
    owner_organisation_id: int


def can_read_layer(principal: Any, layer: LayerLike) -> bool:
    if layer.visibility == "public":
        return True
    orgs = principal_organisations(principal, scope="layers:read")
    if orgs is None:
        return True
    if layer.owner_organisation_id in orgs:
        return True
    if layer.visibility == "shared" and orgs:
        return layer.shared_with.filter(pk__in=orgs).exists()
    return False


def layer_refusal(principal: Any, layer: LayerLike) -> tuple[int, str]:
    """Status and reason when ``can_read_layer`` is False: 401 to sign in, 403 otherwise."""
    if _is_token(principal):
        if "layers:read" not in principal.scopes:
            return 403, "Ce jeton n'a pas la portée « layers:read »."
        return 403, "Cette couche n'est pas partagée avec l'organisation de ce jeton."
    if not getattr(principal, "is_authenticated", False):
        return (
            401,
            "Couche réservée : connectez-vous ou envoyez un jeton d'API (Authorization: Bearer).",
        )
    return 403, "Cette couche n'est pas partagée avec votre organisation."


def can_manage_layer(user: Any, layer: Any) -> bool:
    """Import into a layer or edit its metadata: the managers of its service, the owner's admins."""
    actor = actor_for(user)
    if actor.is_superuser or layer.owner_organisation_id in actor.admin_organisations:
        return True
    return layer.owner_service_id is not None and layer.owner_service_id in actor.managed_services


def can_own_layer_as(user: Any, organisation_id: int | None, service_id: int | None) -> bool:
    """Whether a user may create or save a layer owned by this organisation and service.

    The owner's administrators may choose it, with any service or none; a service manager may
    choose a service they manage (never no service: they could not manage the layer
    afterwards); the operator anything. That the service belongs to the owner organisation is
    the layer's own rule (``Layer.clean``), whoever chooses.
    """
    actor = actor_for(user)
    if organisation_id is None:
        return False
    if actor.is_superuser or organisation_id in actor.admin_organisations:
        return True
    return service_id is not None and service_id in actor.managed_services


def layer_owner_organisations(user: Any) -> QuerySet[Organisation]:
    """Organisations a user may choose as a layer's owner (see ``can_own_layer_as``); the
    services they may choose are ``services_user_may_manage``."""
    actor = actor_for(user)
    qs = Organisation.objects.all()
    if actor.is_superuser:
        return qs
    managed_orgs = {actor.service_organisations[s] for s in actor.managed_services}
    return qs.filter(pk__in=actor.admin_organisations | managed_orgs)


# --- Django admin ---------------------------------------------------------------------------------


def _admin_reference(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    return action == "view"  # territory and domains: read-only for staff, the operator edits


def _admin_organisation(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    if action == "view":
        return obj is None or obj.pk in actor.organisations
    if action == "change":
        return (
            bool(actor.admin_organisations)
            if obj is None
            else can_administer_organisation(user, obj)
        )
    return False  # organisations come from the territory, not from the admin


def _admin_service(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    if action == "view":
        return obj is None or can_view_service(user, obj)
    if action == "change":
        if obj is None:
            return bool(actor.managed_services or actor.admin_organisations)
        return can_manage_service(user, obj)
    return can_create_service(user, obj.organisation if obj is not None else None)


def _admin_competence(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    return action == "view" or can_edit_competence(user, obj)


def _admin_membership(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    if action == "view":
        return obj is None or can_view_service(user, obj.service)
    if obj is None:
        return bool(actor.managed_services or actor.admin_organisations)
    return can_manage_service(user, obj.service)


def _admin_organisation_admin(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    if action != "view":
        return False  # granting administration is the operator's decision
    if obj is None:
        return bool(actor.admin_organisations)
    return obj.organisation_id in actor.admin_organisations


def _admin_layer(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    if action == "view":
        return True  # the catalogue; each layer's data is still checked by can_read_layer
    if obj is None:
        return bool(actor.managed_services or actor.admin_organisations)
    return can_manage_layer(user, obj)


def _admin_layer_import(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    return action == "view" and (obj is None or can_manage_layer(user, obj.layer))


def _admin_api_token(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    if obj is None:
        return bool(actor.managed_services or actor.admin_organisations)
    return action != "change" and can_manage_service(user, obj.service)


def _admin_category(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    return action == "view" or can_edit_competence(user)  # a catalogue shared by all communes


def _admin_routing_rule(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    if action == "view":
        return True
    if obj is None:
        return bool(actor.admin_organisations)
    return can_write_routing_rule(
        user,
        organisation_id=obj.target_service.organisation_id,
        beyond_competence=obj.beyond_competence,
    )


def _admin_request(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    """Reports (procedures later): agents read and act on their services' requests; requests are
    made by citizens (or at the counter, later), never created nor deleted in the admin."""
    if action == "view":
        return obj is None or can_view_request_private(user, obj)
    if action == "change":
        return (
            bool(actor.services or actor.admin_organisations)
            if obj is None
            else (can_act_on_request(user, obj))
        )
    return False


def _admin_banned_email(user: Any, actor: Actor, action: Action, obj: Any) -> bool:
    """The list of banned addresses: organisation administrators (any commune or the CAHC)."""
    return bool(actor.admin_organisations)


_ADMIN_RULES = {
    "reports.report": _admin_request,
    "tracking.bannedemail": _admin_banned_email,
    "routing.category": _admin_category,
    "routing.routingrule": _admin_routing_rule,
    "gis_layers.layer": _admin_layer,
    "gis_layers.layerimport": _admin_layer_import,
    "accounts.apitoken": _admin_api_token,
    "territory.commune": _admin_reference,
    "territory.epci": _admin_reference,
    "organisations.domain": _admin_reference,
    "organisations.organisation": _admin_organisation,
    "organisations.service": _admin_service,
    "organisations.competence": _admin_competence,
    "accounts.servicemembership": _admin_membership,
    "accounts.organisationadmin": _admin_organisation_admin,
}


def admin_allows(user: Any, action: Action, model: type, obj: Any = None) -> bool:
    """Whether the admin may show (view) or perform an action on a model or one object.

    Users and any model without a rule here are the operator's (superuser's) only.
    """
    actor = actor_for(user)
    if not actor.is_staff:
        return False
    if actor.is_superuser:
        return True
    rule = _ADMIN_RULES.get(model._meta.label_lower)
    return rule is not None and rule(user, actor, action, obj)


def admin_queryset(user: Any, model: type, qs: QuerySet) -> QuerySet:
    """Narrow an admin changelist to the rows the user may see."""
    actor = actor_for(user)
    if actor.is_superuser:
        return qs
    if not actor.is_staff:
        return qs.none()
    label = model._meta.label_lower
    if label == "organisations.organisation":
        return qs.filter(pk__in=actor.organisations)
    if label == "organisations.service":
        return qs.filter(pk__in=services_visible_to(user).values("pk"))
    if label == "accounts.servicemembership":
        return qs.filter(service__in=services_visible_to(user).values("pk"))
    if label == "accounts.organisationadmin":
        return qs.filter(organisation_id__in=actor.admin_organisations)
    if label == "accounts.apitoken":
        return qs.filter(service__in=services_user_may_manage(user).values("pk"))
    if label == "gis_layers.layer":
        return qs.filter(layers_filter_for(user)).distinct()
    if label == "gis_layers.layerimport":
        return qs.filter(
            Q(layer__owner_organisation_id__in=actor.admin_organisations)
            | Q(layer__owner_service_id__in=actor.managed_services)
        )
    if label == "reports.report":
        return qs.filter(requests_filter_for(user))
    if label in _ADMIN_RULES:
        return qs  # reference data and competences: everyone on staff reads them all
    return qs.none()


def organisations_user_may_add_services_to(user: Any) -> QuerySet[Organisation]:
    actor = actor_for(user)
    qs = Organisation.objects.all()
    return qs if actor.is_superuser else qs.filter(pk__in=actor.admin_organisations)


def can_route_beyond_competence(user: Any) -> bool:
    """Write a routing rule that reaches beyond its organisation's competences: the operator."""
    return actor_for(user).is_superuser


def can_write_routing_rule(user: Any, *, organisation_id: int, beyond_competence: bool) -> bool:
    """Write a routing rule to a service of ``organisation_id``: its administrators, for rules
    that only refine where that organisation is competent (checked against the competences by
    routing.services.rule_check); a rule reaching beyond is the platform operator's."""
    if can_route_beyond_competence(user):
        return True
    return not beyond_competence and organisation_id in actor_for(user).admin_organisations


def services_user_may_route_to(user: Any) -> QuerySet[Service]:
    """Services an administrator may send reports to with a routing rule: their organisation's."""
    actor = actor_for(user)
    qs = Service.objects.select_related("organisation")
    return qs if actor.is_superuser else qs.filter(organisation_id__in=actor.admin_organisations)


def services_user_may_manage(user: Any) -> QuerySet[Service]:
    actor = actor_for(user)
    qs = Service.objects.select_related("organisation")
    if actor.is_superuser:
        return qs
    return qs.filter(
        Q(pk__in=actor.managed_services) | Q(organisation_id__in=actor.admin_organisations)
    )
