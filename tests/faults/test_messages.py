"""Hostile deliveries under load: duplicates, re-sends, stale and out-of-order events, poison."""

import json
import random
import subprocess
import sys
import time
import uuid

import pytest
from kombu import Connection, Producer

from apps.messaging.tests.signed import signature_headers
from tests.e2e.test_delivery import queue_depth
from tests.faults.harness import Load, settle
from tests.stack import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

COPIES = 150


def sent_messages(stack, alias: str, limit: int, *, routing_keys: tuple[str, ...] = ()) -> list[dict]:
    """Messages a database's relay already published, newest first."""
    where = "dispatched_at IS NOT NULL"
    if routing_keys:
        where += f" AND routing_key IN ({','.join(['%s'] * len(routing_keys))})"
    rows = stack.sql(
        alias,
        f"SELECT message_id, exchange, routing_key, message_type, payload FROM messaging_outbox "
        f"WHERE {where} ORDER BY id DESC LIMIT {int(limit)}",
        list(routing_keys),
    )
    return [
        {
            "message_id": str(uuid.UUID(hex=message_id.replace("-", ""))),
            "exchange": exchange,
            "routing_key": routing_key,
            "type": message_type,
            "body": payload.encode() if isinstance(payload, str) else payload,
        }
        for message_id, exchange, routing_key, message_type, payload in rows
    ]


def publish_all(stack, messages: list[dict]) -> None:
    """Publish each message as its routing key's app would (signed for its id, fresh when it has none):
    what is tested is how the business guards take a re-send, not the signature (apps/messaging/tests)."""
    with Connection(stack.base_env["CELERY_BROKER_URL"], transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection)
        for message in messages:
            message_id = message.get("message_id") or str(uuid.uuid4())
            signature = signature_headers(
                routing_key=message["routing_key"], body=message["body"], message_id=message_id
            )
            producer.publish(
                message["body"],
                exchange=message["exchange"],
                routing_key=message["routing_key"],
                message_id=message_id,
                type=message.get("type"),
                headers={"trace_id": "fault-injected", **signature, **message.get("headers", {})},
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )


def handled(stack, consumer: str, outcome: str) -> int:
    return sum(
        1
        for record in stack.json_logs(consumer)
        if record.get("event") == "consumer.handled" and record.get("outcome") == outcome
    )


def test_the_same_messages_delivered_twice(fault_stack, products):
    stack = fault_stack
    duplicates_before = sum(handled(stack, consumer, "duplicate") for consumer in CONSUMERS)
    load = Load(stack, products=products)
    for share in (0.3, 0.7):
        load.wait_placed(share)
        copies = [
            message
            for alias in ("orders", "inventory", "payments")
            for message in sent_messages(stack, alias, COPIES // 3)
        ]
        publish_all(stack, copies)
    fault_over = time.monotonic()

    figures = settle(
        stack, load, fault=f"duplicate deliveries (same message_id, {2 * COPIES} copies)", since=fault_over
    )

    assert sum(handled(stack, consumer, "duplicate") for consumer in CONSUMERS) > duplicates_before, figures


def test_recovery_resends_with_new_ids(fault_stack, products):
    stack = fault_stack
    load = Load(stack, products=products)
    for share in (0.3, 0.7):
        load.wait_placed(share)
        # Every active saga's current step again, with a fresh message id: what recovery does after an outage.
        subprocess.run(
            [sys.executable, "manage.py", "recover_sagas", "--older-than", "0"],
            cwd=ROOT,
            env=stack.base_env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        copies = [
            {**message, "message_id": None}
            for alias in ("orders", "inventory", "payments")
            for message in sent_messages(stack, alias, COPIES // 3)
        ]
        publish_all(stack, copies)
    fault_over = time.monotonic()

    settle(
        stack, load, fault=f"re-sends with new message ids (recover_sagas x2, {2 * COPIES} copies)", since=fault_over
    )


def test_stale_and_out_of_order_events(fault_stack, products):
    stack = fault_stack
    load = Load(stack, products=products)
    for share in (0.3, 0.7):
        load.wait_placed(share)
        # Real replies again, shuffled: each reaches a saga that has moved on, in no particular order.
        replies = [
            {**message, "message_id": None}
            for alias in ("inventory", "payments")
            for message in sent_messages(stack, alias, COPIES // 2)
        ]
        random.shuffle(replies)
        # Contradicting replies for sagas that have ended: stale, they must change nothing.
        ended = stack.sql(
            "orders",
            "SELECT s.saga_id, s.order_id, l.product_id, l.quantity FROM saga_states s JOIN order_lines l "
            "ON l.order_id = s.order_id WHERE s.status IN ('COMPLETED', 'COMPENSATED', 'FAILED') "
            "ORDER BY s.id DESC LIMIT 50",
        )
        for saga_hex, order_id, product_id, quantity in ended:
            ids = {"saga_id": str(uuid.UUID(hex=saga_hex.replace("-", ""))), "order_id": order_id}
            stock = {"product_id": product_id, "quantity": quantity}
            for routing_key, body in (
                ("inventory.reserved", {**ids, **stock, "success": random.choice([True, False])}),
                ("payment.processed", {**ids, "transaction_id": "txn_stale", "success": random.choice([True, False])}),
                ("inventory.released", {**ids, **stock, "success": False, "reason": "stale"}),
                ("payment.refunded", {**ids, "transaction_id": "", "success": False}),
            ):
                replies.append(
                    {"exchange": "saga.events", "routing_key": routing_key, "body": json.dumps(body).encode()}
                )
        publish_all(stack, replies)
    fault_over = time.monotonic()

    settle(stack, load, fault="stale and out-of-order events (~700 injected)", since=fault_over)


POISON = [
    b"\x00\xff not json at all",
    b"[1, 2, 3]",
    b'{"saga_id": "not-a-uuid", "order_id": -1}',
    b'{"saga_id": "8d2a6dbe-03b0-47aa-84d2-7b5d874645ba", "order_id": 1, "quantity": "lots"}',
    b"{" * 5000,
]


def test_a_poison_message_in_every_queue(fault_stack, products):
    stack = fault_stack
    targets = {
        "inventory.commands": [("saga.commands", "inventory.reserve"), ("saga.commands", "inventory.release")],
        "payment.commands": [("saga.commands", "payment.process"), ("saga.commands", "payment.refund")],
        "order.events": [("saga.events", "inventory.reserved"), ("saga.events", "no.such.event")],
    }
    before = {queue: queue_depth(stack, f"{queue}.dlq") for queue in targets}
    load = Load(stack, products=products)
    load.wait_placed(0.3)
    poison = [
        {"exchange": exchange, "routing_key": routing_key, "body": body}
        for routes in targets.values()
        for exchange, routing_key in routes
        for body in POISON
    ]
    # A well-formed event for a saga that does not exist, and one with no message id at all.
    poison.append(
        {
            "exchange": "saga.events",
            "routing_key": "payment.processed",
            "body": json.dumps(
                {"saga_id": str(uuid.uuid4()), "order_id": 1, "transaction_id": "x", "success": True}
            ).encode(),
        }
    )
    publish_all(stack, poison)
    fault_over = time.monotonic()

    figures = settle(stack, load, fault=f"poison in every queue ({len(poison)} messages)", since=fault_over)

    expected = {queue: before[queue] + 2 * len(POISON) + (queue == "order.events") for queue in targets}
    stack.wait_until(
        lambda: {queue: queue_depth(stack, f"{queue}.dlq") for queue in targets} == expected,
        timeout=30,
        what=f"every poison message in its DLQ: {expected}",
    )
    for consumer in CONSUMERS:
        assert stack.processes[consumer].poll() is None, f"{consumer} died on poison: {figures}"


CONSUMERS = ("orders-consumer", "inventory-consumer", "payments-consumer")
