"""manage.py ensure_admin: a superuser exists afterwards, and no password it did not make up is printed."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command


def ensure_admin(*args: str) -> str:
    out = StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _no_admin_variables(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)


@pytest.mark.django_db(databases=["default"])
def test_in_development_a_generated_password_is_printed_once_and_works():
    output = ensure_admin()

    password = output.split("password: ")[1].strip()
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert "password unchanged" in ensure_admin()


@pytest.mark.django_db(databases=["default"])
def test_a_password_from_the_environment_is_set_and_never_printed(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-environment-1")

    output = ensure_admin()

    assert "from-the-environment-1" not in output
    assert "from DJANGO_SUPERUSER_PASSWORD" in output
    assert get_user_model().objects.get(username="admin").check_password("from-the-environment-1")


@pytest.mark.django_db(databases=["default"])
def test_in_production_no_password_is_generated(settings):
    settings.ADMIN_PASSWORD_GENERATED = False

    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD"):
        ensure_admin()

    assert not get_user_model().objects.filter(username="admin").exists()


@pytest.mark.django_db(databases=["default"])
def test_in_development_a_reset_prints_a_new_password_that_replaces_the_old():
    first = ensure_admin().split("password: ")[1].strip()

    second = ensure_admin("--reset").split("password: ")[1].strip()

    admin = get_user_model().objects.get(username="admin")
    assert second != first
    assert admin.check_password(second)
    assert not admin.check_password(first)


@pytest.mark.django_db(databases=["default"])
def test_a_reset_to_a_password_from_the_environment_never_prints_it(monkeypatch):
    ensure_admin()
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-environment-2")

    output = ensure_admin("--reset")

    assert "from-the-environment-2" not in output
    assert get_user_model().objects.get(username="admin").check_password("from-the-environment-2")


@pytest.mark.django_db(databases=["default"])
def test_in_production_a_reset_generates_nothing_and_keeps_the_password(settings):
    get_user_model().objects.create_superuser(username="admin", email="", password="kept-password-1")
    settings.ADMIN_PASSWORD_GENERATED = False

    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD"):
        ensure_admin("--reset")

    assert get_user_model().objects.get(username="admin").check_password("kept-password-1")
