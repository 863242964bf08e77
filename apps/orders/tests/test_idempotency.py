"""POST /orders with an Idempotency-Key: replays, reuse with another body, per-customer keys, expiry, twenty twins."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error
from apps.messaging.models import OutboxMessage
from apps.orders.models import Order, OrderIdempotencyKey, SagaState
from apps.orders.services.idempotency import idempotency_keys_purge

ORDERS_DB = ["default", "orders"]
VALID_ORDER = {"product_id": 42, "quantity": 2}


@pytest.fixture(autouse=True)
def customer(django_user_model):
    return django_user_model.objects.create_user("idempotent-customer")


def post(body: dict, key: str | None = None, *, user=None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    client = APIClient()
    client.force_authenticate(user or get_user_model().objects.get(username="idempotent-customer"))
    return client.post("/orders", body, format="json", **headers)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_retry_with_the_same_key_and_body_gets_the_first_answer():
    first = post(VALID_ORDER, key="order-7-a")
    retry = post(dict(reversed(VALID_ORDER.items())), key="order-7-a")

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
def test_the_replay_repeats_the_first_status_even_after_the_order_moved_on():
    first = post(VALID_ORDER, key="k").json()
    Order.objects.filter(pk=first["order_id"]).update(status="CONFIRMED")

    assert post(VALID_ORDER, key="k").json()["status"] == "PENDING"


@pytest.mark.django_db(databases=ORDERS_DB)
def test_the_same_key_with_another_body_is_422():
    post(VALID_ORDER, key="order-7-a")

    response = post({**VALID_ORDER, "quantity": 3}, key="order-7-a")

    assert_json_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert Order.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_unusable_key_is_400(key):
    assert_json_error(post(VALID_ORDER, key=key), 400, "INVALID_REQUEST")
    assert not Order.objects.exists()


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_invalid_body_stores_no_key_so_the_corrected_retry_places_the_order():
    assert post({**VALID_ORDER, "quantity": 0}, key="k").status_code == 400
    assert not OrderIdempotencyKey.objects.exists()

    assert post(VALID_ORDER, key="k").status_code == 201


@pytest.mark.django_db(databases=ORDERS_DB)
def test_another_customers_key_never_replays_someone_elses_order(django_user_model):
    other = django_user_model.objects.create_user("other-customer")

    mine = post(VALID_ORDER, key="shared-key").json()
    theirs = post(VALID_ORDER, key="shared-key", user=other)

    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["order_id"] != mine["order_id"]
    assert Order.objects.get(pk=theirs.json()["order_id"]).user_id == other.pk


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_expired_key_is_forgotten_and_places_a_new_order(settings):
    first = post(VALID_ORDER, key="old-key").json()
    OrderIdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL + 1))

    again = post(VALID_ORDER, key="old-key")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["order_id"] != first["order_id"]
    assert OrderIdempotencyKey.objects.get().order_id == again.json()["order_id"]


@pytest.mark.django_db(databases=ORDERS_DB)
def test_the_purge_deletes_expired_keys_only(settings):
    post(VALID_ORDER, key="old-key")
    post(VALID_ORDER, key="new-key")
    OrderIdempotencyKey.objects.filter(key="old-key").update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL + 1)
    )

    assert idempotency_keys_purge() == 1
    assert list(OrderIdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]


@pytest.mark.mariadb
@pytest.mark.django_db(databases=ORDERS_DB, transaction=True)
def test_twenty_concurrent_identical_requests_place_one_order():
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
