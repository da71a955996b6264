"""Accounts (email as login) and the roles held in organisations and services.

Roles are rows, not flags: an agent or a manager is a member of a service; an organisation
administrator administers a commune or the agglomeration; a superuser is the platform operator.
A user with none of these is a citizen. What each role may do is decided in
``accounts.permissions`` only.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organisations.models import Organisation, Service


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        extra.pop("is_staff", None)  # derived from roles, see User.is_staff
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("adresse électronique"), unique=True)
    first_name = models.CharField(_("prénom"), max_length=150, blank=True)
    last_name = models.CharField(_("nom"), max_length=150, blank=True)
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    is_active = models.BooleanField(_("actif"), default=True)
    date_joined = models.DateTimeField(_("inscrit le"), default=timezone.now)
    email_verified_at = models.DateTimeField(_("adresse vérifiée le"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def is_staff(self) -> bool:
        """Staff = anyone holding a role; derived, never stored, so it cannot drift from roles."""
        from .permissions import actor_for

        return actor_for(self).is_staff


class ServiceMembership(models.Model):
    """A user works in a service, as an agent or as the service's manager."""

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        MANAGER = "manager", _("Responsable de service")

    user = models.ForeignKey(
        User, verbose_name=_("utilisateur"), on_delete=models.CASCADE, related_name="memberships"
    )
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("rôle"), max_length=10, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(_("depuis le"), auto_now_add=True)

    class Meta:
        verbose_name = _("membre d'un service")
        verbose_name_plural = _("membres des services")
        ordering = ["service", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "service"], name="one_membership_per_service"),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} – {self.service}"


class OrganisationAdmin(models.Model):
    """A user administers an organisation: its services, their members and settings."""

    user = models.ForeignKey(
        User,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="administered",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="administrators",
    )
    created_at = models.DateTimeField(_("depuis le"), auto_now_add=True)

    class Meta:
        verbose_name = _("administrateur d'organisation")
        verbose_name_plural = _("administrateurs d'organisation")
        ordering = ["organisation", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation"], name="one_admin_role_per_organisation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.organisation}"


class ApiToken(models.Model):
    """A machine credential that belongs to a service and carries scopes.

    Only a SHA-256 digest of the secret is stored (the secret is 256 random bits, so a fast hash
    is enough); the secret is shown once at creation. Tokens are accepted in the Authorization
    header only, never in URLs (they would end up in logs and browser history).
    """

    class Scope(models.TextChoices):
        LAYERS_READ = "layers:read", _("Lire les couches partagées avec l'organisation")
        LAYERS_WRITE = "layers:write", _("Importer dans les couches du service")
        REQUESTS_READ = "requests:read", _("Lire les demandes du service")

    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("nom"), max_length=100, help_text=_("Par exemple : QGIS du SIG."))
    prefix = models.CharField(_("préfixe"), max_length=12, unique=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("portées"), default=list)
    created_by = models.ForeignKey(
        User,
        verbose_name=_("créé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expire le"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)

    class Meta:
        verbose_name = _("jeton d'API")
        verbose_name_plural = _("jetons d'API")
        ordering = ["service", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.service})"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class PendingSignup(models.Model):
    """A sign-up of an address not yet proven: the password (hashed) and names it chose.

    Its verification link names this row; opening the link gives the account this password and
    these names, activates it and deletes every pending row of the account. Until then nothing
    of the account changes, so a second sign-up with the same address takes nothing from the
    first one (each has its own link and its own password).
    """

    user = models.ForeignKey(
        User,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="pending_signups",
    )
    password = models.CharField(max_length=128)  # make_password(); never the clear text
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("inscription en attente")
        verbose_name_plural = _("inscriptions en attente")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} ({self.created_at:%Y-%m-%d %H:%M})"
