from django.contrib import admin

from core.admin import PermissionModuleAdminMixin

from .models import BannedEmail


@admin.register(BannedEmail)
class BannedEmailAdmin(PermissionModuleAdminMixin, admin.ModelAdmin):
    list_display = ["pattern", "reason", "created_by", "created_at"]
    search_fields = ["pattern", "reason"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
