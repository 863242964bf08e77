"""The orders and sagas HTTP API: /orders, /orders/{id}, /sagas, /sagas/{saga_id}."""

import json
import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error
from apps.messaging.models import OutboxMessage
from apps.orders.models import Order, OrderStatus, SagaState, SagaStatus, SagaStep
from apps.orders.tests.factories import OrderFactory, SagaStateFactory

# Every call is made by someone: the users live in the default database.
ORDERS_DB = ["default", "orders"]
ORDERS_AND_USERS_DB = ORDERS_DB

VALID_ORDER = {"user_id": 7, "product_id": 42, "quantity": 2, "total_amount": "19.98"}
MISSING = object()


def order_body(**changes) -> str:
    body = dict(VALID_ORDER)
    for name, value in changes.items():
        if value is MISSING:
            del body[name]
        else:
            body[name] = value
    return json.dumps(body)


@pytest.fixture
def client(api_client):
    """The operator: places orders for any customer (user_id), reads every order."""
    return api_client


@pytest.fixture
def staff_client(api_client):
    """The operator again, who may read the sagas (orders.view_sagastate)."""
    return api_client


@pytest.fixture
def staff_without_permissions_client(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_place_order_creates_order_saga_and_reserve_command(client):
    response = client.post("/orders", VALID_ORDER, format="json", HTTP_X_REQUEST_ID="request-place-1")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"order_id", "saga_id", "status"}
    assert body["status"] == "PENDING"
    order = Order.objects.using("orders").get(pk=body["order_id"])
    assert (order.user_id, order.total_amount, order.price_overridden, order.status) == (
        7,
        Decimal("19.98"),
        True,
        OrderStatus.PENDING,
    )
    assert [(line.product_id, line.quantity) for line in order.lines.all()] == [(42, 2)]
    saga = SagaState.objects.using("orders").get(order_id=order.pk)
    assert str(saga.saga_id) == body["saga_id"]
    assert (saga.status, saga.current_step) == (SagaStatus.IN_PROGRESS, SagaStep.RESERVING_INVENTORY)
    # The saga names the request's trace; its first command was written in the request's span.
    assert response["X-Request-ID"] == "request-place-1"
    assert saga.trace_id == response["traceparent"].split("-")[1]
    outbox = OutboxMessage.objects.using("orders").get()
    assert outbox.routing_key == "inventory.reserve"
    assert outbox.saga_id == saga.saga_id
    assert outbox.traceparent == response["traceparent"]
    assert outbox.dispatched_at is None
    assert outbox.payload["saga_id"] == body["saga_id"]
    assert outbox.payload["order_id"] == order.pk
    assert outbox.payload["product_id"] == 42
    assert outbox.payload["quantity"] == 2


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_place_order_accepts_a_trailing_slash(client):
    response = client.post("/orders/", VALID_ORDER, format="json")

    assert response.status_code == 201
    assert Order.objects.using("orders").filter(pk=response.json()["order_id"]).exists()


@pytest.mark.parametrize(
    "raw_body",
    [
        pytest.param('{"user_id": 7, "product_id": 42,', id="malformed-json"),
        pytest.param("", id="empty-body"),
        pytest.param("[1, 2]", id="json-list"),
        pytest.param('"an order"', id="json-string"),
        pytest.param("null", id="json-null"),
        pytest.param("42", id="json-number"),
        pytest.param(order_body(quantity="ten"), id="quantity-string"),
        pytest.param(order_body(quantity=2.5), id="quantity-float"),
        pytest.param(order_body(quantity=[2]), id="quantity-list"),
        pytest.param(order_body(quantity={"n": 2}), id="quantity-object"),
        pytest.param(order_body(quantity=None), id="quantity-null"),
        pytest.param(order_body(quantity=0), id="quantity-zero"),
        pytest.param(order_body(quantity=-1), id="quantity-negative"),
        pytest.param(order_body(quantity=settings.ORDER_MAX_QUANTITY + 1), id="quantity-over-max"),
        pytest.param(order_body(quantity=10**30), id="quantity-absurd"),
        pytest.param(order_body(user_id=True), id="user_id-bool"),
        pytest.param(order_body(user_id=0), id="user_id-zero"),
        pytest.param(order_body(user_id=-5), id="user_id-negative"),
        pytest.param(order_body(user_id=2**63), id="user_id-over-64-bit"),
        pytest.param(order_body(product_id="forty-two"), id="product_id-string"),
        pytest.param(order_body(total_amount=0), id="amount-zero"),
        pytest.param(order_body(total_amount="0.00"), id="amount-zero-string"),
        pytest.param(order_body(total_amount=-1), id="amount-negative"),
        pytest.param(order_body(total_amount=1.234), id="amount-three-decimals"),
        pytest.param(order_body(total_amount="1.234"), id="amount-three-decimals-string"),
        pytest.param(order_body(total_amount=10**13), id="amount-too-many-digits"),
        pytest.param(order_body(total_amount="NaN"), id="amount-nan-string"),
        pytest.param(order_body(total_amount="Infinity"), id="amount-infinity-string"),
        pytest.param(order_body(total_amount="-Infinity"), id="amount-minus-infinity-string"),
        pytest.param(order_body(total_amount="lots"), id="amount-word"),
        pytest.param(order_body(total_amount=True), id="amount-bool"),
        pytest.param(order_body().replace('"19.98"', "NaN"), id="amount-nan-literal"),
        pytest.param(order_body().replace('"19.98"', "Infinity"), id="amount-infinity-literal"),
        pytest.param(order_body().replace('"19.98"', "1e400"), id="amount-overflowing-float"),
        pytest.param(order_body().replace("42", "9" * 5000), id="product_id-5000-digit-literal"),
        pytest.param(order_body(product_id=MISSING), id="missing-product_id"),
        pytest.param(order_body(quantity=MISSING), id="missing-quantity"),
        pytest.param("{}", id="missing-everything"),
    ],
)
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_place_order_rejects_bad_input_with_json_400(client, raw_body):
    response = client.generic("POST", "/orders", raw_body, content_type="application/json")

    assert_json_error(response, 400, "INVALID_REQUEST")
    assert not Order.objects.using("orders").exists()
    assert not OutboxMessage.objects.using("orders").exists()


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_place_order_names_the_invalid_fields(client):
    response = client.generic(
        "POST", "/orders", order_body(quantity=0, total_amount="NaN"), content_type="application/json"
    )

    body = assert_json_error(response, 400, "INVALID_REQUEST")
    assert set(body["fields"]) == {"quantity", "total_amount"}


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_place_order_at_the_largest_quantity_is_accepted(client):
    response = client.post("/orders", {**VALID_ORDER, "quantity": settings.ORDER_MAX_QUANTITY}, format="json")

    assert response.status_code == 201
    assert Order.objects.using("orders").get().lines.get().quantity == settings.ORDER_MAX_QUANTITY


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_place_order_with_text_plain_is_415(client):
    response = client.generic("POST", "/orders", json.dumps(VALID_ORDER), content_type="text/plain")

    assert_json_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert not Order.objects.using("orders").exists()


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_place_order_with_oversized_body_is_413(client):
    body = json.dumps("x" * 100_000)

    response = client.generic("POST", "/orders", body, content_type="application/json")

    assert len(body) > settings.MAX_REQUEST_BODY_BYTES
    assert_json_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert not Order.objects.using("orders").exists()


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_get_order(client):
    order = OrderFactory(user_id=7, product_id=42, quantity=3, total_amount=Decimal("30.50"))

    response = client.get(f"/orders/{order.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == order.pk
    assert (body["user_id"], body["product_id"], body["quantity"]) == (7, 42, 3)
    assert Decimal(str(body["total_amount"])) == Decimal("30.50")
    assert body["status"] == "PENDING"
    assert body["failure_reason"] == ""
    assert body["created_at"]
    assert body["updated_at"]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_get_unknown_order_is_404(client):
    order = OrderFactory()

    response = client.get(f"/orders/{order.pk + 1000}")

    assert_json_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "raw_id",
    [
        pytest.param("abc", id="word"),
        pytest.param("0", id="zero"),
        pytest.param("-1", id="negative"),
        pytest.param("1.5", id="decimal"),
        pytest.param("1e3", id="exponent"),
        pytest.param(str(2**63), id="over-64-bit"),
        pytest.param("%D9%A1%D9%A2", id="non-ascii-digits"),
    ],
)
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_get_order_with_invalid_id_is_400(client, raw_id):
    response = client.get(f"/orders/{raw_id}")

    assert_json_error(response, 400, "INVALID_ID")


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_list_orders_of_one_user(client):
    mine = [OrderFactory(user_id=7) for _ in range(3)]
    OrderFactory.create_batch(2, user_id=8)

    response = client.get("/orders", {"user_id": 7})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "orders"}
    assert body["count"] == 3
    assert body["next"] is None
    assert body["previous"] is None
    assert [order["id"] for order in body["orders"]] == sorted((order.pk for order in mine), reverse=True)
    assert {order["user_id"] for order in body["orders"]} == {7}


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_list_orders_is_paged(client):
    OrderFactory.create_batch(3, user_id=7)

    first = client.get("/orders", {"user_id": 7, "limit": 2}).json()
    second = client.get(first["next"]).json()

    assert first["count"] == second["count"] == 3
    assert len(first["orders"]) == 2
    assert len(second["orders"]) == 1
    assert second["next"] is None
    assert second["previous"] is not None
    ids = [order["id"] for order in first["orders"] + second["orders"]]
    assert len(set(ids)) == 3


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_list_orders_of_user_without_orders_is_empty(client):
    OrderFactory(user_id=8)

    body = client.get("/orders", {"user_id": 7}).json()

    assert body["count"] == 0
    assert body["orders"] == []


@pytest.mark.parametrize("raw_user_id", ["abc", "0", "-3", "true", ""])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_list_orders_with_invalid_user_id_is_400(client, raw_user_id):
    response = client.get("/orders", {"user_id": raw_user_id})

    assert_json_error(response, 400, "INVALID_ID")


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_delete_order_is_405(client):
    order = OrderFactory()

    response = client.delete(f"/orders/{order.pk}")

    assert_json_error(response, 405, "METHOD_NOT_ALLOWED")
    assert Order.objects.using("orders").filter(pk=order.pk).exists()


@pytest.mark.parametrize(("method", "path"), [("put", "/orders"), ("patch", "/orders/1"), ("post", "/orders/1")])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_unsupported_order_methods_are_405(client, method, path):
    response = getattr(client, method)(path, {}, format="json")

    assert_json_error(response, 405, "METHOD_NOT_ALLOWED")


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_list_sagas(staff_client):
    completed = SagaStateFactory(status=SagaStatus.COMPLETED, current_step=SagaStep.DONE)
    running = SagaStateFactory()

    body = staff_client.get("/sagas").json()

    assert set(body) == {"count", "next", "previous", "sagas"}
    assert body["count"] == 2
    assert [saga["saga_id"] for saga in body["sagas"]] == [str(running.saga_id), str(completed.saga_id)]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_list_sagas_by_status(staff_client):
    completed = SagaStateFactory(status=SagaStatus.COMPLETED, current_step=SagaStep.DONE)
    SagaStateFactory()
    SagaStateFactory(status=SagaStatus.COMPENSATING, current_step=SagaStep.RELEASING_INVENTORY)

    body = staff_client.get("/sagas", {"status": "COMPLETED"}).json()

    assert body["count"] == 1
    assert body["sagas"][0]["saga_id"] == str(completed.saga_id)
    assert body["sagas"][0]["order_id"] == completed.order_id
    assert body["sagas"][0]["status"] == "COMPLETED"


@pytest.mark.parametrize("bad_status", ["BOGUS", "completed", ""])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_list_sagas_with_unknown_status_is_400(staff_client, bad_status):
    response = staff_client.get("/sagas", {"status": bad_status})

    assert_json_error(response, 400, "INVALID_REQUEST")


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_get_saga_with_its_order(staff_client):
    saga = SagaStateFactory(order=OrderFactory(user_id=7, quantity=4), trace_id="trace-1")

    response = staff_client.get(f"/sagas/{saga.saga_id}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"saga", "order", "history"}
    assert [(entry["event"], entry["at"]) for entry in body["history"]] == [
        ("ORDER_PLACED", body["saga"]["created_at"])
    ]
    assert body["saga"]["is_stuck"] is False
    assert body["saga"]["saga_id"] == str(saga.saga_id)
    assert body["saga"]["order_id"] == saga.order_id
    assert body["saga"]["status"] == "IN_PROGRESS"
    assert body["saga"]["current_step"] == "RESERVING_INVENTORY"
    assert body["saga"]["trace_id"] == "trace-1"
    assert body["saga"]["completed_at"] is None
    assert body["order"]["id"] == saga.order_id
    assert (body["order"]["user_id"], body["order"]["quantity"]) == (7, 4)


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_get_unknown_saga_is_404(staff_client):
    SagaStateFactory()

    response = staff_client.get(f"/sagas/{uuid.uuid4()}")

    assert_json_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("raw_id", ["not-a-uuid", "123", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_get_saga_with_invalid_id_is_400(staff_client, raw_id):
    response = staff_client.get(f"/sagas/{raw_id}")

    assert_json_error(response, 400, "INVALID_ID")


@pytest.mark.parametrize("path", ["/sagas", f"/sagas/{uuid.UUID(int=1)}"])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_sagas_refuse_anonymous_clients(path):
    response = APIClient().get(path)

    assert_json_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("path", ["/sagas", f"/sagas/{uuid.UUID(int=1)}"])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_sagas_refuse_staff_without_the_view_permission(staff_without_permissions_client, path):
    SagaStateFactory(saga_id=uuid.UUID(int=1))

    response = staff_without_permissions_client.get(path)

    assert_json_error(response, 403, "PERMISSION_DENIED")


def _confirm(order_id: int) -> None:
    from django.db import transaction

    from apps.orders.services.runtime import saga_apply_event

    saga = SagaState.objects.get(order_id=order_id)
    for event in ("INVENTORY_RESERVED", "PAYMENT_SUCCEEDED"):
        with transaction.atomic(using="orders"):
            saga_apply_event(saga_id=saga.saga_id, order_id=order_id, event=event)


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_cancel_a_pending_order_answers_202_cancelling_and_again_the_same(client):
    placed = client.post("/orders", order_body(), content_type="application/json").json()

    first = client.post(f"/orders/{placed['order_id']}/cancel", {"reason": "oops"}, format="json")
    again = client.post(f"/orders/{placed['order_id']}/cancel", format="json")

    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() == {**placed, "status": "CANCELLING"}
    assert client.get(f"/orders/{placed['order_id']}").json()["cancel_reason"] == "oops"


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_cancel_a_confirmed_order_starts_a_cancellation_saga(client):
    placed = client.post("/orders", order_body(), content_type="application/json").json()
    _confirm(placed["order_id"])

    response = client.post(f"/orders/{placed['order_id']}/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY="cancel-key")
    replay = client.post(f"/orders/{placed['order_id']}/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY="cancel-key")

    body = response.json()
    assert (response.status_code, body["status"]) == (202, "CANCELLING")
    assert body["saga_id"] != placed["saga_id"]
    assert SagaState.objects.get(saga_id=body["saga_id"]).saga_type == "cancellation"
    assert (replay.status_code, replay.json(), replay["Idempotent-Replayed"]) == (202, body, "true")


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_cancel_errors_are_json(client, settings):
    failed = client.post("/orders", order_body(), content_type="application/json").json()
    SagaState.objects.filter(order_id=failed["order_id"]).update(status="FAILED")
    Order.objects.filter(pk=failed["order_id"]).update(status="FAILED")

    assert_json_error(client.post("/orders/999999/cancel", format="json"), 404, "NOT_FOUND")
    assert_json_error(client.post("/orders/abc/cancel", format="json"), 400, "INVALID_ID")
    assert_json_error(client.post(f"/orders/{failed['order_id']}/cancel", format="json"), 409, "ORDER_NOT_CANCELLABLE")
    assert_json_error(
        client.post(f"/orders/{failed['order_id']}/cancel", {"reason": "x" * 256}, format="json"),
        400,
        "INVALID_REQUEST",
    )
    settings.ORDER_CANCEL_WINDOW = "1s"
    confirmed = client.post("/orders", order_body(), content_type="application/json").json()
    _confirm(confirmed["order_id"])
    from datetime import timedelta

    from django.utils import timezone

    SagaState.objects.filter(order_id=confirmed["order_id"]).update(completed_at=timezone.now() - timedelta(hours=1))
    assert_json_error(
        client.post(f"/orders/{confirmed['order_id']}/cancel", format="json"), 409, "CANCEL_WINDOW_PASSED"
    )


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_sagas_filter_by_type_and_order(client, staff_client):
    placed = client.post("/orders", order_body(), content_type="application/json").json()
    _confirm(placed["order_id"])
    client.post(f"/orders/{placed['order_id']}/cancel", format="json")

    listed = staff_client.get("/sagas", {"order_id": placed["order_id"], "type": "cancellation"}).json()["sagas"]

    assert [(saga["saga_type"], saga["order_id"]) for saga in listed] == [("cancellation", placed["order_id"])]
    assert_json_error(staff_client.get("/sagas", {"type": "refund"}), 400, "INVALID_REQUEST")


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_an_order_links_its_saga_and_payment_and_the_saga_its_order(client):
    placed = client.post("/orders", order_body(), content_type="application/json").json()
    order_id, saga_id = placed["order_id"], placed["saga_id"]

    order = client.get(f"/orders/{order_id}").json()
    listed = client.get("/orders").json()["orders"][0]
    saga = client.get(order["saga_url"]).json()

    assert order["saga_url"] == listed["saga_url"] == f"http://testserver/sagas/{saga_id}"
    assert order["payment_url"] == listed["payment_url"] == f"http://testserver/payments/{order_id}"
    assert saga["saga"]["order_url"] == f"http://testserver/orders/{order_id}"
    assert saga["saga"]["payment_url"] == order["payment_url"]
    assert saga["order"]["saga_url"] == order["saga_url"]
    assert client.get(saga["saga"]["order_url"]).json()["id"] == order_id
    listed_sagas = client.get("/sagas", {"order_id": order_id}).json()["sagas"]
    assert [listed_saga["order_url"] for listed_saga in listed_sagas] == [saga["saga"]["order_url"]]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_a_cancelled_orders_saga_url_stays_its_placement(client):
    placed = client.post("/orders", order_body(), content_type="application/json").json()
    _confirm(placed["order_id"])
    cancelling = client.post(f"/orders/{placed['order_id']}/cancel", format="json").json()

    order = client.get(f"/orders/{placed['order_id']}").json()

    assert cancelling["saga_id"] != placed["saga_id"]
    assert order["saga_url"] == f"http://testserver/sagas/{placed['saga_id']}"


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_an_order_without_a_saga_has_no_saga_url(client):
    order = OrderFactory()

    assert client.get(f"/orders/{order.pk}").json()["saga_url"] is None


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_links_keep_the_browsable_apis_format(client):
    order = SagaStateFactory().order_id

    body = client.get(f"/orders/{order}", {"format": "json"}).json()

    assert body["payment_url"] == f"http://testserver/payments/{order}?format=json"
