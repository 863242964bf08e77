"""Failed logins are limited per username and per client address, on every login there is."""

import pytest
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error

USERS_DB = ["default"]
LIMIT = 20


def token_login(username: str, password: str, address: str = "10.0.0.1"):
    return APIClient().post(
        "/auth/token", {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def form_login(path: str, username: str, password: str, address: str = "10.0.0.1"):
    return Client().post(path, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=address)


def assert_locked(response) -> None:
    assert response.status_code == 429, response.content[:300]
    assert 1 <= int(response["Retry-After"]) <= 60
    assert_json_error(response, 429, "THROTTLED")


@pytest.mark.django_db(databases=USERS_DB)
def test_twenty_wrong_passwords_lock_the_username(customer):
    for _ in range(LIMIT):
        assert_json_error(token_login("customer", "wrong"), 401, "BAD_CREDENTIALS")

    assert_locked(token_login("customer", "wrong"))


@pytest.mark.django_db(databases=USERS_DB)
def test_the_right_password_is_refused_while_locked(customer):
    for _ in range(LIMIT):
        token_login("customer", "wrong")

    assert_locked(token_login("customer", "customer-password"))
    assert not AuthToken.objects.exists()


@pytest.mark.django_db(databases=USERS_DB)
def test_the_username_lock_holds_from_every_address_and_in_any_case(customer):
    for n in range(LIMIT):
        token_login("customer", "wrong", address=f"10.0.1.{n}")

    assert_locked(token_login("customer", "customer-password", address="10.0.2.1"))
    assert_locked(token_login("CUSTOMER", "customer-password", address="10.0.2.2"))


@pytest.mark.django_db(databases=USERS_DB)
def test_twenty_failures_from_one_address_lock_it_for_every_username(customer, other_customer):
    for n in range(LIMIT):
        token_login(f"guess-{n}", "wrong", address="10.0.0.9")

    assert_locked(token_login("customer", "customer-password", address="10.0.0.9"))
    assert token_login("customer", "customer-password", address="10.0.0.10").status_code == 200


@pytest.mark.django_db(databases=USERS_DB)
def test_another_username_from_another_address_is_not_locked(customer, other_customer):
    for _ in range(LIMIT):
        token_login("customer", "wrong")

    assert token_login("other-customer", "other-customer-password", address="10.0.0.2").status_code == 200


@pytest.mark.django_db(databases=USERS_DB)
def test_successful_logins_are_not_counted(customer):
    for _ in range(LIMIT + 5):
        assert token_login("customer", "customer-password").status_code == 200


@pytest.mark.django_db(databases=USERS_DB)
def test_a_client_cannot_pick_its_address_with_x_forwarded_for(customer):
    for n in range(LIMIT):
        APIClient().post(
            "/auth/token",
            {"username": f"guess-{n}", "password": "wrong"},
            format="json",
            REMOTE_ADDR="10.0.0.3",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )

    assert_locked(token_login("customer", "customer-password", address="10.0.0.3"))


@pytest.mark.django_db(databases=USERS_DB)
def test_the_lock_ends_after_the_window(customer, monkeypatch):
    import time

    now = time.time()
    monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.timer", lambda self: now)
    for _ in range(LIMIT):
        token_login("customer", "wrong")
    assert_locked(token_login("customer", "customer-password"))

    monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.timer", lambda self: now + 61)

    assert token_login("customer", "customer-password").status_code == 200


@pytest.mark.django_db(databases=USERS_DB)
def test_the_rate_is_a_setting(customer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_failures": "2/min"},
    }
    token_login("customer", "wrong")
    token_login("customer", "wrong")

    assert_locked(token_login("customer", "customer-password"))


@pytest.mark.parametrize("path", ["/admin/login/", "/api-auth/login/"])
@pytest.mark.django_db(databases=USERS_DB)
def test_form_logins_lock_after_twenty_failures(staff_user, path):
    for _ in range(LIMIT):
        response = form_login(path, "staff", "wrong")
        assert response.status_code == 200  # the form again, with its error

    locked = form_login(path, "staff", "staff-password")

    assert_locked(locked)
    assert "_auth_user_id" not in locked.wsgi_request.session


@pytest.mark.django_db(databases=USERS_DB)
def test_failures_anywhere_count_towards_one_lock(staff_user):
    for n in range(LIMIT):
        if n % 2:
            form_login("/admin/login/", "staff", "wrong")
        else:
            token_login("staff", "wrong")

    assert_locked(token_login("staff", "staff-password"))
    assert_locked(form_login("/admin/login/", "staff", "staff-password"))


@pytest.mark.django_db(databases=USERS_DB)
def test_the_admin_login_still_works_when_not_locked(staff_user):
    staff_user.is_superuser = True
    staff_user.save()

    response = form_login("/admin/login/", "staff", "staff-password")

    assert response.status_code == 302
    assert Client().get("/admin/login/").status_code == 200


@pytest.mark.django_db(databases=USERS_DB)
def test_the_login_page_itself_is_not_locked(staff_user):
    for _ in range(LIMIT):
        form_login("/admin/login/", "staff", "wrong")

    assert Client().get("/admin/login/", REMOTE_ADDR="10.0.0.1").status_code == 200
