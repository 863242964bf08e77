"""Customers and their API tokens (auth lives on the ``default`` database)."""

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.db import transaction
from knox.models import AuthToken

DATABASE = "default"

# What the seed's operator scripts do: place orders for customers at set prices, run sagas,
# keep the stock, read payments.
OPERATOR_PERMISSIONS = (
    "orders.place_on_behalf",
    "orders.override_price",
    "orders.view_order",
    "orders.change_order",
    "orders.operate_saga",
    "orders.view_sagastate",
    "inventory.add_inventory",
    "inventory.change_inventory",
    "inventory.view_inventory",
    "payments.view_payment",
)


class UnknownPermission(ValueError):
    """A permission name that is not ``app_label.codename`` of an existing permission."""


def token_create(*, user: AbstractBaseUser) -> tuple[str, datetime]:
    """A new API token for ``user``: its one readable copy and its expiry (only a digest is stored)."""
    instance, token = AuthToken.objects.create(user=user)
    return token, instance.expiry


def permissions_get(*, names: Sequence[str]) -> list[Permission]:
    """The permissions ``app_label.codename`` names. Raises UnknownPermission for any that does not exist."""
    found = []
    for name in names:
        app_label, _, codename = name.partition(".")
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if not codename or permission is None:
            raise UnknownPermission(f"No permission {name!r} (expected app_label.codename, e.g. orders.view_order).")
        found.append(permission)
    return found


def customer_upsert(
    *,
    username: str,
    password: str | None = None,
    email: str | None = None,
    staff: bool = False,
    permissions: Sequence[str] = (),
) -> AbstractBaseUser:
    """Create the user ``username``, or update the existing one; only adds, never takes away.

    A password or email given replaces the old one; a new user without a password can log in
    by token only. ``staff`` makes the user staff; ``permissions`` are granted on top of those
    held. Raises UnknownPermission before changing anything.
    """
    granted = permissions_get(names=permissions)
    User = get_user_model()
    with transaction.atomic(using=DATABASE, durable=True):
        user, created = User.objects.get_or_create(username=username)
        if password is not None:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        if email is not None:
            user.email = email
        if staff:
            user.is_staff = True
        user.save()
        user.user_permissions.add(*granted)
    return user
