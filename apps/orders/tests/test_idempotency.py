"""POST /orders with an Idempotency-Key: replays, reuse with another body, and twenty concurrent twins."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error
from apps.messaging.models import OutboxMessage
from apps.orders.models import Order, OrderIdempotencyKey, SagaState

ORDERS_DB = ["default", "orders"]
VALID_ORDER = {"user_id": 7, "product_id": 42, "quantity": 2, "total_amount": "19.98"}


@pytest.fixture
def post(operator):
    """``post(body, key)``: POST /orders as the operator, from a client of its own (threads may share none)."""

    def send(body: dict, key: str | None = None):
        headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
        client = APIClient()
        client.force_authenticate(operator)
        return client.post("/orders", body, format="json", **headers)

    return send


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_retry_with_the_same_key_and_body_gets_the_first_answer(post):
    first = post(VALID_ORDER, key="order-7-a")
    retry = post({**VALID_ORDER, "total_amount": 19.98}, key="order-7-a")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (Order.objects.count(), SagaState.objects.count(), OutboxMessage.objects.using("orders").count()) == (
        1,
        1,
        1,
    )


@pytest.mark.django_db(databases=ORDERS_DB)
def test_the_replay_repeats_the_first_status_even_after_the_order_moved_on(post):
    first = post(VALID_ORDER, key="k").json()
    Order.objects.filter(pk=first["order_id"]).update(status="CONFIRMED")

    assert post(VALID_ORDER, key="k").json()["status"] == "PENDING"


@pytest.mark.django_db(databases=ORDERS_DB)
def test_the_same_key_with_another_body_is_422(post):
    post(VALID_ORDER, key="order-7-a")

    response = post({**VALID_ORDER, "quantity": 3}, key="order-7-a")

    assert_json_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert Order.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_unusable_key_is_400(post, key):
    assert_json_error(post(VALID_ORDER, key=key), 400, "INVALID_REQUEST")
    assert not Order.objects.exists()


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_invalid_body_stores_no_key_so_the_corrected_retry_places_the_order(post):
    assert post({**VALID_ORDER, "quantity": 0}, key="k").status_code == 400
    assert not OrderIdempotencyKey.objects.exists()

    assert post(VALID_ORDER, key="k").status_code == 201


@pytest.mark.mariadb
@pytest.mark.django_db(databases=ORDERS_DB, transaction=True)
def test_twenty_concurrent_identical_requests_place_one_order(post):
    count = 20
    barrier = threading.Barrier(count)
    responses: list = [None] * count

    def send(index: int) -> None:
        try:
            barrier.wait()
            responses[index] = post(VALID_ORDER, key="burst-key")
        except Exception as exc:
            responses[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not [response for response in responses if isinstance(response, Exception)], responses
    assert [response.status_code for response in responses] == [201] * count
    assert len({(r.json()["order_id"], r.json()["saga_id"]) for r in responses}) == 1
    assert sum(response.headers.get("Idempotent-Replayed") == "true" for response in responses) == count - 1
    assert (Order.objects.count(), SagaState.objects.count(), OutboxMessage.objects.using("orders").count()) == (
        1,
        1,
        1,
    )
