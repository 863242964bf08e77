"""Users for tests: model permissions given by name."""


def grant(user, *permissions: str):
    """Give ``user`` the model permissions named "app_label.codename"; returns the user, reloaded."""
    from django.contrib.auth.models import Permission

    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)
