from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiAccess(BasePermission):
    """Open in development; a logged-in user when API_REQUIRE_AUTHENTICATION is on (production)."""

    def has_permission(self, request, view) -> bool:
        if not settings.API_REQUIRE_AUTHENTICATION:
            return True
        return bool(request.user and request.user.is_authenticated)


class IsStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class StaffWrites(BasePermission):
    """Reads follow ApiAccess; writes need a staff user."""

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return ApiAccess().has_permission(request, view)
        return IsStaff().has_permission(request, view)
