"""The consumer runtime against MariaDB and RabbitMQ: inbox, retry queue, DLQ."""

import json
import time
import uuid

import pytest
from django.db import OperationalError
from kombu import Connection, Producer

from apps.common.tests.tracing import CALLER_TRACEPARENT, continues
from apps.messaging.contracts import InventoryReserved, ReserveInventory, StockLine
from apps.messaging.models import InboxMessage, OutboxMessage
from apps.messaging.outbox import outbox_enqueue
from apps.messaging.tests.signed import signature_headers
from apps.messaging.tests.workers import wait_for

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.rabbitmq,
    pytest.mark.django_db(databases=["orders"], transaction=True),
]


def reply(message, context):
    """A stand-in handler whose effect is one outbox row per handled command."""
    answer = InventoryReserved(
        saga_id=message.saga_id,
        order_id=message.order_id,
        lines=message.lines,
        success=True,
    )
    outbox_enqueue(using="orders", message=answer)


def publish(url, body, *, message_id=None, routing_key="inventory.reserve", headers=None):
    """Publish ``body`` as the app that sends ``routing_key`` would: signed, unless it is not JSON."""
    message_id = message_id or str(uuid.uuid4())
    signature = signature_headers(routing_key=routing_key, body=body, message_id=message_id)
    with Connection(url) as connection:
        Producer(connection).publish(
            body if isinstance(body, bytes) else json.dumps(body).encode(),
            exchange="saga.commands",
            routing_key=routing_key,
            message_id=message_id,
            headers={"traceparent": CALLER_TRACEPARENT, **signature, **(headers or {})},
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )


def reserve_body(order_id=1):
    return ReserveInventory(
        saga_id=uuid.uuid4(), order_id=order_id, lines=(StockLine(product_id=5, quantity=1),)
    ).to_body()


def dlq_messages(url):
    messages = []
    with Connection(url) as connection:
        while (message := connection.default_channel.basic_get("inventory.commands.dlq", no_ack=True)) is not None:
            messages.append(message)
    return messages


def replies():
    return OutboxMessage.objects.using("orders").count()


def test_a_message_delivered_twice_takes_effect_once(run_consumer, rabbitmq_vhost):
    run_consumer(reply)
    message_id = str(uuid.uuid4())
    body = reserve_body()

    publish(rabbitmq_vhost, body, message_id=message_id)
    publish(rabbitmq_vhost, body, message_id=message_id)
    publish(rabbitmq_vhost, reserve_body(order_id=2))
    wait_for(lambda: InboxMessage.objects.using("orders").count() == 2, "two distinct messages handled")
    time.sleep(0.3)

    assert replies() == 2
    assert InboxMessage.objects.using("orders").filter(message_id=message_id).count() == 1
    # Each reply continues the command's trace, from the span its handling ran in.
    spans = [row.traceparent for row in OutboxMessage.objects.using("orders")]
    assert all(continues(traceparent, CALLER_TRACEPARENT) for traceparent in spans)
    assert len(set(spans)) == 2


def test_malformed_bodies_go_to_the_dlq_and_the_consumer_keeps_going(run_consumer, rabbitmq_vhost):
    run_consumer(reply)

    publish(rabbitmq_vhost, b"{not json")
    publish(rabbitmq_vhost, {"saga_id": "nope", "order_id": 1})
    publish(rabbitmq_vhost, reserve_body(), routing_key="inventory.release")
    publish(rabbitmq_vhost, reserve_body())
    wait_for(lambda: replies() == 1, "the good message handled")
    dead = []
    wait_for(lambda: dead.extend(dlq_messages(rabbitmq_vhost)) or len(dead) == 3, "three messages dead-lettered")

    assert replies() == 1
    reasons = sorted(message.properties["application_headers"]["x-dead-letter-reason"] for message in dead)
    assert [reason.split(":")[0] for reason in reasons] == [
        "malformed message",
        "malformed message",
        "no handler for routing key 'inventory.release'",
    ]


def test_dead_lettered_messages_say_why_and_where_from(run_consumer, rabbitmq_vhost):
    run_consumer(reply)
    publish(rabbitmq_vhost, b"{not json", message_id="11111111-1111-1111-1111-111111111111")
    dead = []
    wait_for(lambda: dead.extend(dlq_messages(rabbitmq_vhost)) or dead, "a dead letter")

    headers = dead[0].properties["application_headers"]
    assert dead[0].properties["message_id"] == "11111111-1111-1111-1111-111111111111"
    assert dead[0].body == "{not json"
    assert headers["x-original-routing-key"] == "inventory.reserve"
    assert headers["x-original-exchange"] == "saga.commands"
    assert headers["x-dead-letter-reason"].startswith("malformed message")


def test_transient_failures_retry_through_the_retry_queue_then_dead_letter(run_consumer, rabbitmq_vhost):
    attempts = []

    def always_deadlocks(message, context):
        attempts.append(context.message_id)
        raise OperationalError(1213, "Deadlock found when trying to get lock")

    run_consumer(always_deadlocks)
    publish(rabbitmq_vhost, reserve_body())
    dead = []
    wait_for(lambda: dead.extend(dlq_messages(rabbitmq_vhost)) or dead, "the message dead-lettered")

    headers = dead[0].properties["application_headers"]
    assert len(attempts) == 3, "the first delivery plus RETRY_MAX_ATTEMPTS=2 retries"
    assert headers["x-retry-count"] == 2
    assert headers["x-original-exchange"] == "saga.commands", "not the default exchange the retry came back through"
    assert headers["x-original-routing-key"] == "inventory.reserve"
    assert headers["x-dead-letter-reason"].startswith("gave up after 2 retries")
    assert InboxMessage.objects.using("orders").count() == 0


def test_a_transient_failure_then_success_takes_effect_once(run_consumer, rabbitmq_vhost):
    failures = []

    def fails_once(message, context):
        if not failures:
            failures.append(1)
            raise OperationalError(1205, "Lock wait timeout exceeded")
        reply(message, context)

    run_consumer(fails_once)
    publish(rabbitmq_vhost, reserve_body())
    wait_for(lambda: replies() == 1, "the retried message handled")
    time.sleep(0.3)

    assert replies() == 1
    assert dlq_messages(rabbitmq_vhost) == []
