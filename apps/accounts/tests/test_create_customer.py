"""manage.py create_customer: a user and a token on stdout, alone, so a shell can capture it."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from apps.accounts.services import OPERATOR_PERMISSIONS

USERS_DB = ["default", "orders"]


def create_customer(*args) -> str:
    out = io.StringIO()
    call_command("create_customer", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(databases=USERS_DB)
def test_prints_only_a_token_that_authenticates():
    output = create_customer("alice", "--password", "alice-password-1")

    token = output.strip()
    assert output == token + "\n"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/orders").status_code == 200
    user = get_user_model().objects.get(username="alice")
    assert user.check_password("alice-password-1")
    assert not user.is_staff
    assert not user.user_permissions.exists()


@pytest.mark.django_db(databases=USERS_DB)
def test_without_a_password_the_user_logs_in_by_token_only():
    create_customer("bob")

    assert not get_user_model().objects.get(username="bob").has_usable_password()


@pytest.mark.django_db(databases=USERS_DB)
def test_running_it_again_updates_the_user_and_adds_a_token():
    first = create_customer("alice", "--password", "first-password", "--email", "a@example.com").strip()
    second = create_customer("alice", "--password", "second-password").strip()
    create_customer("alice")

    users = get_user_model().objects.filter(username="alice")
    assert users.count() == 1
    user = users.get()
    assert user.check_password("second-password")
    assert user.email == "a@example.com"
    assert first != second
    assert AuthToken.objects.filter(user=user).count() == 3


@pytest.mark.django_db(databases=USERS_DB)
def test_staff_and_permissions_are_granted_and_never_taken_away():
    create_customer("carol", "--staff", "--permission", "orders.view_sagastate")
    create_customer("carol", "--permission", "inventory.view_inventory")

    user = get_user_model().objects.get(username="carol")
    assert user.is_staff
    assert user.get_all_permissions() == {"orders.view_sagastate", "inventory.view_inventory"}


@pytest.mark.django_db(databases=USERS_DB)
def test_seed_operator_is_staff_with_the_seed_permissions():
    token = create_customer("seed", "--seed-operator").strip()

    user = get_user_model().objects.get(username="seed")
    assert user.is_staff
    assert not user.is_superuser
    assert user.get_all_permissions() == set(OPERATOR_PERMISSIONS)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/sagas").status_code == 200


@pytest.mark.parametrize("name", ["orders.no_such_thing", "nonsense", "orders.", ".view_order"])
@pytest.mark.django_db(databases=USERS_DB)
def test_an_unknown_permission_changes_nothing(name):
    with pytest.raises(CommandError, match="No permission"):
        create_customer("dave", "--permission", name)

    assert not get_user_model().objects.filter(username="dave").exists()


@pytest.mark.django_db(databases=USERS_DB)
def test_the_permissions_of_the_seed_operator_all_exist():
    from django.contrib.auth.models import Permission

    existing = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}

    assert set(OPERATOR_PERMISSIONS) <= existing


def test_the_token_is_the_only_line_on_stdout_of_a_real_process(tmp_path):
    """As the README's TOKEN=$(...) runs it: a real manage.py, its own SQLite files."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {
        **{name: value for name, value in os.environ.items() if not name.endswith("DATABASE_URL")},
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "VAR_DIR": str(tmp_path),
    }
    env.pop("TEST_DB", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate_all", "--verbosity", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "create_customer", "erin", "--seed-operator"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert len(result.stdout.strip()) == 64
