"""Users for tests: model permissions by name, and the set the seed's scripts run with."""

# The permissions of the staff user the seed's scripts run as: place for anyone at a set price, see and operate all.
SEED_OPERATOR_PERMISSIONS = (
    "orders.place_on_behalf",
    "orders.override_price",
    "orders.view_order",
    "orders.change_order",
    "orders.view_sagastate",
    "orders.operate_saga",
    "inventory.view_inventory",
    "inventory.add_inventory",
    "inventory.change_inventory",
    "payments.view_payment",
)


def grant(user, *permissions: str):
    """Give ``user`` the model permissions named "app_label.codename"; returns the user, reloaded."""
    from django.contrib.auth.models import Permission

    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)
