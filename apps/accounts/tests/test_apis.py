"""POST /auth/token and POST /auth/logout: knox bearer tokens, hashed at rest, with an expiry."""

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error

USERS_DB = ["default", "orders"]


def login(username: str, password: str, client=None, **extra):
    return (client or APIClient()).post(
        "/auth/token", {"username": username, "password": password}, format="json", **extra
    )


@pytest.mark.django_db(databases=USERS_DB)
def test_token_login_answers_a_token_and_its_expiry(customer, settings):
    before = timezone.now()

    response = login("customer", "customer-password")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry"}
    expiry = AuthToken.objects.get(user=customer).expiry
    assert before + settings.API_TOKEN_TTL <= expiry <= timezone.now() + settings.API_TOKEN_TTL


@pytest.mark.django_db(databases=USERS_DB)
def test_a_token_login_records_the_last_login(customer):
    login("customer", "customer-password")

    customer.refresh_from_db()
    assert customer.last_login is not None


@pytest.mark.django_db(databases=USERS_DB)
def test_tokens_are_stored_as_digests_only(customer):
    token = login("customer", "customer-password").json()["token"]

    stored = AuthToken.objects.get(user=customer)
    assert token not in (stored.digest, stored.token_key)
    assert len(stored.token_key) < len(token)


@pytest.mark.django_db(databases=USERS_DB)
def test_a_token_authenticates_as_its_user(customer):
    token = login("customer", "customer-password").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get("/orders")

    assert response.status_code == 200


@pytest.mark.django_db(databases=USERS_DB)
def test_each_login_is_its_own_token(customer):
    first = login("customer", "customer-password").json()["token"]
    second = login("customer", "customer-password").json()["token"]

    assert first != second
    assert AuthToken.objects.filter(user=customer).count() == 2


# Not "CUSTOMER": MariaDB's default collation compares usernames without case, SQLite's with it.
@pytest.mark.parametrize(("username", "password"), [("customer", "wrong-password"), ("nobody", "customer-password")])
@pytest.mark.django_db(databases=USERS_DB)
def test_bad_credentials_are_refused(customer, username, password):
    response = login(username, password)

    assert_json_error(response, 401, "BAD_CREDENTIALS")
    assert response["WWW-Authenticate"] == "Bearer"
    assert not AuthToken.objects.exists()


@pytest.mark.django_db(databases=USERS_DB)
def test_an_inactive_user_gets_no_token(customer):
    customer.is_active = False
    customer.save()

    assert_json_error(login("customer", "customer-password"), 401, "BAD_CREDENTIALS")


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "customer"}, {"password": "x"}, {"username": 5, "password": "x"}, ["customer", "x"]],
)
@pytest.mark.django_db(databases=USERS_DB)
def test_malformed_login_requests_are_400(customer, body):
    response = APIClient().post("/auth/token", body, format="json")

    assert_json_error(response, 400, "INVALID_REQUEST")


@pytest.mark.django_db(databases=USERS_DB)
def test_logout_deletes_only_the_token_it_carries(customer, bearer_client):
    leaving, staying = bearer_client(customer), bearer_client(customer)

    response = leaving.post("/auth/logout")

    assert response.status_code == 204
    assert_json_error(leaving.get("/orders"), 401, "UNAUTHORIZED")
    assert staying.get("/orders").status_code == 200


@pytest.mark.django_db(databases=USERS_DB)
def test_logout_without_a_token_is_401():
    assert_json_error(APIClient().post("/auth/logout"), 401, "UNAUTHORIZED")


@pytest.mark.django_db(databases=USERS_DB)
def test_an_expired_token_is_401_and_deleted(customer, bearer_client):
    client = bearer_client(customer)
    AuthToken.objects.filter(user=customer).update(expiry=timezone.now() - timedelta(seconds=1))

    response = client.get("/orders")

    assert_json_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"] == "Bearer"
    assert not AuthToken.objects.exists()


@pytest.mark.django_db(databases=USERS_DB)
def test_using_a_token_does_not_extend_it(customer, bearer_client):
    client = bearer_client(customer)
    expiry = AuthToken.objects.get(user=customer).expiry

    client.get("/orders")

    assert AuthToken.objects.get(user=customer).expiry == expiry


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer not-a-token", "Bearer a b", "Bearer " + "ÿ" * 64, "Bearer " + "0" * 64, "Token abc"],
)
@pytest.mark.django_db(databases=USERS_DB)
def test_a_bad_authorization_header_is_401(customer, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/orders")

    assert_json_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db(databases=USERS_DB)
def test_basic_auth_is_not_accepted_even_with_the_right_password(customer):
    import base64

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"customer:customer-password").decode())

    assert_json_error(client.get("/orders"), 401, "UNAUTHORIZED")
