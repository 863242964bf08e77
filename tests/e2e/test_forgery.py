"""Forged messages on the real broker: each goes to its DLQ, counted and logged, and changes nothing.

An intruder with a broker login publishes valid JSON onto the exchanges, with
no signature or with one made by another app's key. The Procfile processes run
on MariaDB and RabbitMQ; the order, payment and stock are read back over HTTP.
"""

import json
import uuid

import pytest
from django.conf import settings
from django.test import override_settings
from kombu import Connection, Producer

from apps.messaging.contracts import CONTRACTS
from apps.messaging.signing import PRODUCER_HEADER, signed_headers

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

PRICE = "999.00"


def forge(stack, routing_key: str, body: dict, *, headers: dict | None = None, message_id: str | None = None) -> str:
    """Publish ``body`` under ``routing_key`` the way an intruder on the broker can; return its message id."""
    message_id = message_id or str(uuid.uuid4())
    with Connection(stack.base_env["CELERY_BROKER_URL"], transport_options={"confirm_publish": True}) as connection:
        Producer(connection).publish(
            json.dumps(body).encode(),
            exchange=CONTRACTS[routing_key].exchange,
            routing_key=routing_key,
            message_id=message_id,
            headers={"trace_id": "forged", **(headers or {})},
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )
    return message_id


def forge_signed(stack, route, routing_key: str, body: dict, *, producer: str | None = None) -> str:
    """Like forge, signed with another route's key (and, if given, naming ``producer`` as the sender)."""
    contract = CONTRACTS[routing_key]
    message_id = str(uuid.uuid4())
    stolen = settings.MESSAGE_SIGNING_KEYS[route]
    with override_settings(MESSAGE_SIGNING_KEYS={(contract.producer, contract.consumer): stolen}):
        headers = signed_headers(contract=contract, message_id=message_id, body=body)
    if producer is not None:
        headers[PRODUCER_HEADER] = producer
    return forge(stack, routing_key, body, headers=headers, message_id=message_id)


class DeadLetters:
    """What the DLQs held, by message id: their dead-letter reasons (read once, kept)."""

    def __init__(self, stack):
        self.stack = stack
        self.seen: dict[str, str] = {}

    def _drain(self) -> None:
        with Connection(self.stack.base_env["CELERY_BROKER_URL"]) as connection:
            channel = connection.default_channel
            for queue in ("inventory.commands.dlq", "payment.commands.dlq", "order.events.dlq"):
                while (message := channel.basic_get(queue, no_ack=True)) is not None:
                    headers = message.properties.get("application_headers") or {}
                    self.seen[message.properties["message_id"]] = headers.get("x-dead-letter-reason", "")

    def reasons(self, *message_ids: str, timeout: float = 30) -> list[str]:
        def arrived() -> bool:
            self._drain()
            return all(message_id in self.seen for message_id in message_ids)

        self.stack.wait_until(arrived, timeout=timeout, what=f"{len(message_ids)} forged messages in their DLQs")
        return [self.seen[message_id] for message_id in message_ids]


@pytest.fixture(scope="module")
def dead_letters(stack):
    return DeadLetters(stack)


@pytest.fixture(scope="module")
def shopper(stack):
    stack.seed(7101, 100, unit_price=PRICE)
    return stack.customer("shopper")[1]


def place(stack, token: str) -> dict:
    placed = stack.place({"lines": [{"product_id": 7101, "quantity": 1}]}, token=token)
    return placed


def payment(stack, order_id: int) -> tuple[str, str]:
    status, body = stack.http("GET", f"/payments/{order_id}")
    assert status == 200, body
    return body["status"], body["amount"]


def untrusted_count(stack, process: str) -> float:
    return sum(
        value
        for (name, _labels), value in stack.metrics(process).items()
        if name == "consumer_untrusted_messages_total"
    )


def test_a_forged_refund_of_a_confirmed_order_refunds_nothing(stack, shopper, dead_letters):
    placed = place(stack, shopper)
    order_id = placed["order_id"]
    assert stack.wait_terminal([order_id]) == {order_id: "CONFIRMED"}
    before = untrusted_count(stack, "payments-consumer")

    forged = [
        forge(stack, "payment.refund", {"saga_id": str(uuid.uuid4()), "order_id": order_id, "amount": 999.0}),
        # Even naming the order's real saga: the signature is what is missing.
        forge(stack, "payment.refund", {"saga_id": placed["saga_id"], "order_id": order_id, "amount": 999.0}),
    ]

    reasons = dead_letters.reasons(*forged)
    assert all(reason.startswith("untrusted: sent as None, but only orders sends") for reason in reasons), reasons
    assert payment(stack, order_id) == ("SUCCESS", PRICE)
    assert stack.order(order_id)["status"] == "CONFIRMED"
    assert untrusted_count(stack, "payments-consumer") == before + 2
    logged = {r["message_id"] for r in stack.json_logs("payments-consumer") if r.get("event") == "consumer.untrusted"}
    assert set(forged) <= logged


def test_a_refund_forged_for_a_future_order_leaves_that_order_to_be_charged(stack, shopper, dead_letters):
    [(last_id,)] = stack.sql("orders", "SELECT COALESCE(MAX(id), 0) FROM orders")
    forged = [
        forge(stack, "payment.refund", {"saga_id": str(uuid.uuid4()), "order_id": order_id, "amount": 999.0})
        for order_id in range(last_id + 1, last_id + 4)
    ]
    dead_letters.reasons(*forged)

    placed = place(stack, shopper)

    order_id = placed["order_id"]
    assert last_id < order_id <= last_id + 3
    assert stack.wait_terminal([order_id]) == {order_id: "CONFIRMED"}
    assert payment(stack, order_id) == ("SUCCESS", PRICE)


def test_a_forged_cheap_charge_ahead_of_the_real_one_is_dead_lettered(stack, shopper, dead_letters):
    stack.stop("payments-consumer")
    try:
        placed = place(stack, shopper)
        order_id = placed["order_id"]
        stack.wait_until(
            lambda: stack.http("GET", f"/sagas/{placed['saga_id']}")[1]["saga"]["current_step"] == "PROCESSING_PAYMENT",
            timeout=30,
            what="the saga waiting for its payment",
        )
        forged = forge(stack, "payment.process", {"saga_id": placed["saga_id"], "order_id": order_id, "amount": 0.01})
    finally:
        stack.start("payments-consumer")

    assert dead_letters.reasons(forged)[0].startswith("untrusted:")
    assert stack.wait_terminal([order_id]) == {order_id: "CONFIRMED"}
    assert payment(stack, order_id) == ("SUCCESS", PRICE)


def test_a_forged_reservation_for_an_order_that_does_not_exist_moves_no_stock(stack, dead_letters):
    stack.seed(7102, 5_000_000)
    before = stack.stock(7102)
    body = {"saga_id": str(uuid.uuid4()), "order_id": 2**40, "lines": [{"product_id": 7102, "quantity": 4_999_999}]}
    small = {**body, "lines": [{"product_id": 7102, "quantity": 5}]}

    huge, unsigned = forge(stack, "inventory.reserve", body), forge(stack, "inventory.reserve", small)

    reasons = dead_letters.reasons(huge, unsigned)
    # Beyond what the API lets anyone order it is refused unread; within it, for want of orders' signature.
    assert reasons[0].startswith("malformed message: field 'lines' asks more than the API's"), reasons
    assert reasons[1].startswith("untrusted:"), reasons
    assert stack.stock(7102) == before


def test_a_message_signed_or_sent_as_the_wrong_app_is_refused(stack, shopper, dead_letters):
    placed = place(stack, shopper)
    order_id = placed["order_id"]
    assert stack.wait_terminal([order_id]) == {order_id: "CONFIRMED"}
    refund = {"saga_id": placed["saga_id"], "order_id": order_id, "amount": 999.0}
    reserved = {"saga_id": placed["saga_id"], "order_id": order_id, "lines": [], "success": False, "reason": "x"}

    forged = [
        # Inventory's own key, claiming to be orders: the key is not orders'.
        forge_signed(stack, ("inventory", "orders"), "payment.refund", refund),
        # Inventory's own key, saying so: inventory does not send refunds.
        forge_signed(stack, ("inventory", "orders"), "payment.refund", refund, producer="inventory"),
        # Payments' key on an inventory event.
        forge_signed(stack, ("payments", "orders"), "inventory.reserved", reserved),
    ]

    reasons = dead_letters.reasons(*forged)
    assert reasons[0].startswith("untrusted: the signature of orders's key"), reasons
    assert reasons[1].startswith("untrusted: sent as 'inventory', but only orders sends payment.refund"), reasons
    assert reasons[2].startswith("untrusted: the signature of inventory's key"), reasons
    assert payment(stack, order_id) == ("SUCCESS", PRICE)
    assert stack.order(order_id)["status"] == "CONFIRMED"
