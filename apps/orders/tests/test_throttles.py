"""POST /orders is limited per customer and per client address; reads are not."""

import pytest
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error
from apps.orders.models import Order

ORDERS_AND_USERS_DB = ["default", "orders"]
ORDER = {"product_id": 42, "quantity": 1, "total_amount": "9.99"}


@pytest.fixture
def rates(settings):
    """``rates(orders_user=..., orders_ip=...)``: set throttle rates for this test."""

    def set_rates(**changed):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **changed},
        }

    return set_rates


def place(client, address: str = "10.0.0.1", **body):
    return client.post("/orders", {**ORDER, **body}, format="json", REMOTE_ADDR=address)


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_throttled(response) -> None:
    assert_json_error(response, 429, "THROTTLED")
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_a_customer_past_the_rate_gets_429_with_retry_after(rates, operator):
    rates(orders_user="3/min")
    client = as_user(operator)

    placed = [place(client, user_id=7).status_code for _ in range(3)]
    refused = place(client, user_id=7)

    assert placed == [201, 201, 201]
    assert_throttled(refused)
    assert Order.objects.count() == 3


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_customer_limit_follows_the_user_across_addresses(rates, operator, customer):
    rates(orders_user="2/min")
    client = as_user(operator)

    place(client, "10.0.0.1", user_id=7)
    place(client, "10.0.0.2", user_id=7)

    assert_throttled(place(client, "10.0.0.3", user_id=7))
    assert place(as_user(customer), "10.0.0.3", user_id=customer.pk).status_code == 201


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_the_address_limit_counts_every_user_from_it(rates, operator, django_user_model):
    rates(orders_ip="2/min")
    one, two = (django_user_model.objects.create_user(name, password="pw-123456789") for name in ("one", "two"))

    assert place(as_user(one), "10.0.0.7", user_id=one.pk).status_code == 201
    assert place(as_user(two), "10.0.0.7", user_id=two.pk).status_code == 201
    assert_throttled(place(as_user(operator), "10.0.0.7", user_id=7))
    assert place(as_user(operator), "10.0.0.8", user_id=7).status_code == 201


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_reads_are_not_counted(rates, operator):
    rates(orders_user="1/min", orders_ip="1/min")
    client = as_user(operator)

    assert [client.get("/orders").status_code for _ in range(5)] == [200] * 5
    assert place(client, user_id=7).status_code == 201


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_off_turns_a_throttle_off(rates, operator):
    rates(orders_user=None, orders_ip=None)
    client = as_user(operator)

    assert {place(client, user_id=7).status_code for _ in range(30)} == {201}


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_anonymous_posts_are_401_before_any_throttle(rates):
    rates(orders_ip="1/min")

    assert_json_error(place(APIClient()), 401, "UNAUTHORIZED")
    assert_json_error(place(APIClient()), 401, "UNAUTHORIZED")
