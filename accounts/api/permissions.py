"""DRF adapters over accounts.permissions: they decide nothing themselves."""

from rest_framework.permissions import BasePermission

from accounts import permissions


class IsStaff(BasePermission):
    message = "Réservé aux agents des collectivités."

    def has_permission(self, request, view) -> bool:
        return permissions.can_access_intranet(request.user)


class CanViewService(BasePermission):
    def has_object_permission(self, request, view, obj) -> bool:
        return permissions.can_view_service(request.user, obj)


class CanViewRequestPrivate(BasePermission):
    def has_object_permission(self, request, view, obj) -> bool:
        return permissions.can_view_request_private(request.user, obj)
