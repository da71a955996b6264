from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from core.admin import PermissionModuleAdminMixin

from . import permissions
from .models import ApiToken, OrganisationAdmin, ServiceMembership, User
from .services import api_token_create, api_token_revoke


@admin.register(User)
class UserAdmin(PermissionModuleAdminMixin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_superuser", "date_joined"]
    list_filter = ["is_active", "is_superuser"]
    search_fields = ["email", "first_name", "last_name"]
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal = []
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Identité"), {"fields": ["first_name", "last_name", "phone"]}),
        (_("Accès"), {"fields": ["is_active", "is_superuser"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipForm(forms.ModelForm):
    """Members are chosen by email: a manager never browses the list of all accounts."""

    email = forms.EmailField(label=_("adresse électronique du membre"))

    class Meta:
        model = ServiceMembership
        fields = ["service", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["email"].initial = self.instance.user.email

    def clean_email(self):
        email = self.cleaned_data["email"]
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise forms.ValidationError(_("Aucun compte actif n'a cette adresse."))
        self.instance.user = user
        return email


@admin.register(ServiceMembership)
class ServiceMembershipAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ["user", "service", "role", "created_at"]
    list_filter = ["role", "service__organisation"]
    search_fields = ["user__email", "user__last_name", "service__name"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "service":
            kwargs["queryset"] = permissions.services_user_may_manage(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(OrganisationAdmin)
class OrganisationAdminAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["user", "organisation", "created_at"]
    list_filter = ["organisation"]
    raw_id_fields = ["user"]


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("portées"), choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiToken
        fields = ["service", "name", "scopes", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    """Tokens are created here; the secret is shown once, then only its prefix."""

    form = ApiTokenForm
    list_display = [
        "name",
        "prefix",
        "service",
        "scopes",
        "created_by",  # a token outlives its creator's role: revoke it when they leave
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["service__organisation"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "service":
            kwargs["queryset"] = permissions.services_user_may_manage(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, secret = api_token_create(
            service=form.cleaned_data["service"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            created_by=request.user,
            expires_at=form.cleaned_data.get("expires_at"),
        )
        obj.pk = token.pk
        messages.warning(
            request,
            _("Copiez ce jeton maintenant, il ne sera plus affiché : %(secret)s")
            % {"secret": secret},
        )

    @admin.action(description=_("Révoquer les jetons sélectionnés"))
    def revoke(self, request, queryset):
        for token in queryset:
            if permissions.can_manage_service(request.user, token.service):
                api_token_revoke(token=token)
