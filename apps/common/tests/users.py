"""Users for tests: model permissions given by name, and API clients logged in as a user."""


def grant(user, *permissions: str):
    """Give ``user`` the model permissions named "app_label.codename"; returns the user, reloaded."""
    from django.contrib.auth.models import Permission

    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)


def logged_in(user):
    """An APIClient authenticated as ``user`` (no token: the tests about tokens make their own)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
