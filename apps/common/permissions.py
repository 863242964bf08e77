"""Who may call an endpoint: a login (the default, IsAuthenticated) and, for staff functions, model permissions.

Staff powers are Django model permissions (``inventory.change_inventory``, ``orders.view_sagastate``),
never ``is_staff`` alone: a staff user holds only the functions granted to them or their groups.
"""

from django.conf import settings
from rest_framework.permissions import BasePermission

# HEAD and OPTIONS read what GET reads.
READ_ALIASES = {"HEAD": "GET", "OPTIONS": "GET"}


class ModelPermissions(BasePermission):
    """A logged-in user holding every permission ``required`` names for the request's method.

    A method with a handler on the view but no entry in ``required`` is refused, so a handler
    added later is closed until someone names its permissions; a method without a handler passes
    here and gets the view's 405.
    """

    required: dict[str, tuple[str, ...]] = {}

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        method = READ_ALIASES.get(request.method, request.method)
        if method not in self.required:
            return not hasattr(view, request.method.lower())
        return user.has_perms(self.required[method])


def permissions_required(**by_method: str | tuple[str, ...]) -> type[ModelPermissions]:
    """``permissions_required(GET="inventory.view_inventory", PUT="inventory.change_inventory")``."""
    required = {
        method.upper(): (perms,) if isinstance(perms, str) else tuple(perms) for method, perms in by_method.items()
    }
    name = "Requires_" + "_".join(f"{method}_{'_'.join(perms)}" for method, perms in required.items())
    return type(name.replace(".", "_"), (ModelPermissions,), {"required": required})


class ApiDocsReadable(BasePermission):
    """The OpenAPI document and its UI: anyone while ``API_DOCS_PUBLIC`` (development), else staff.

    Reading the documentation is no staff power over data, so ``is_staff`` (a logged-in user the
    admin lets in, by session or bearer token) is enough here. An anonymous caller gets 401, a
    logged-in non-staff user 403.
    """

    def has_permission(self, request, view) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
