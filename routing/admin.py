from django import forms
from django.contrib.gis import admin
from django.core.exceptions import ValidationError
from leaflet.admin import LeafletGeoAdmin

from accounts import permissions
from core.admin import PermissionModuleAdminMixin

from .models import Category, RoutingRule
from .services import rule_check, rule_save


class RoutingRuleForm(forms.ModelForm):
    """Runs the service's check (who may route where) to show its errors beside the fields;
    the admin then saves through the service (``RoutingRuleAdmin.save_related``)."""

    user = None  # set by RoutingRuleAdmin.get_form

    class Meta:
        model = RoutingRule
        fields = [
            "name",
            "description",
            "priority",
            "target_service",
            "categories",
            "domains",
            "communes",
            "geom",
            "near_layer",
            "near_distance_m",
            "near_owner",
            "valid_from",
            "valid_until",
            "beyond_competence",
            "is_active",
        ]

    def clean(self):
        data = super().clean()
        if self.errors or "target_service" not in data:
            return data
        rule = self.instance
        for name in ("target_service", "geom", "beyond_competence", "is_active"):
            if name in data:
                setattr(rule, name, data[name])
        try:
            rule_check(
                user=self.user,
                rule=rule,
                categories=data.get("categories") or (),
                domains=data.get("domains") or (),
                communes=data.get("communes") or (),
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(Category)
class CategoryAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "domain",
        "allow_anonymous",
        "photo_required",
        "public_position",
        "sla_days",
        "is_active",
    ]
    list_filter = ["domain", "is_active", "allow_anonymous", "photo_required", "public_position"]
    search_fields = ["name", "keywords", "slug"]
    filter_horizontal = ["layers"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(PermissionModuleAdminMixin, LeafletGeoAdmin):
    """Rules are edited with a map widget for their area."""

    list_display = [
        "name",
        "priority",
        "target_service",
        "near_layer",
        "valid_from",
        "valid_until",
        "beyond_competence",
        "is_active",
    ]
    list_filter = ["is_active", "target_service__organisation"]
    search_fields = ["name", "description"]
    filter_horizontal = ["categories", "domains", "communes"]
    form = RoutingRuleForm

    def save_model(self, request, obj, form, change):
        """Nothing yet: the rule and its conditions are saved together by ``save_related``."""

    def save_related(self, request, form, formsets, change):
        """The one write path of rules: ``rule_save`` checks and stores the rule with its
        conditions (the form showed the same check's errors)."""
        data = form.cleaned_data
        rule_save(
            user=request.user,
            rule=form.instance,
            categories=data.get("categories") or (),
            domains=data.get("domains") or (),
            communes=data.get("communes") or (),
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def get_readonly_fields(self, request, obj=None):
        if permissions.can_route_beyond_competence(request.user):
            return super().get_readonly_fields(request, obj)
        return [*super().get_readonly_fields(request, obj), "beyond_competence"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "target_service":
            kwargs["queryset"] = permissions.services_user_may_route_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
