"""Consumers publish their replies right after their commit; the relay takes what they leave."""

import contextlib
import dataclasses
import json
import time
import uuid

import pytest
from django.db import transaction
from django.utils import timezone
from kombu import Connection

from apps.common.tests.tracing import CALLER_TRACEPARENT, TRACE_ID, continues
from apps.messaging.contracts import InventoryReserved, StockLine
from apps.messaging.dispatch import AfterCommitDispatch, dispatching_after_commit
from apps.messaging.models import OutboxMessage
from apps.messaging.outbox import outbox_enqueue
from apps.messaging.publisher import ConfirmingPublisher
from apps.messaging.relay import relay_dispatch_batch
from apps.messaging.tests.test_consumer import publish, reply, reserve_body
from apps.messaging.tests.workers import wait_for

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.rabbitmq,
    pytest.mark.django_db(databases=["orders"], transaction=True),
]

outbox = OutboxMessage.objects.using("orders")


def order_events(url):
    with Connection(url) as connection:
        messages = []
        while (message := connection.default_channel.basic_get("order.events", no_ack=True)) is not None:
            messages.append(message)
        return messages


def test_a_consumer_publishes_its_replies_and_marks_them_without_a_relay(run_consumer, rabbitmq_vhost):
    run_consumer(reply)
    for order_id in (1, 2, 3):
        publish(rabbitmq_vhost, reserve_body(order_id=order_id))

    wait_for(lambda: outbox.filter(dispatched_at__isnull=False).count() == 3, "three replies marked dispatched")
    rows = {str(row.message_id): row for row in outbox.all()}
    received = []
    wait_for(lambda: len(received.__iadd__(order_events(rabbitmq_vhost))) == 3, "three replies on order.events")
    for message in received:
        row = rows[message.properties["message_id"]]
        assert json.loads(message.body) == row.payload
        # The command's trace, from the reply's publish span, the child of the consumer's span.
        assert message.headers["trace_id"] == TRACE_ID
        assert continues(message.headers["traceparent"], row.traceparent)
        assert continues(row.traceparent, CALLER_TRACEPARENT)
        # Held back from the relay when written: the consumer had it first.
        assert row.retry_at > row.created_at


def test_rows_a_consumer_could_not_publish_go_out_through_the_relay_after_the_grace(rabbitmq_vhost, settings):
    # Longer than a refused connection takes to give up (kombu retries once).
    settings.OUTBOX_DISPATCH_GRACE = 5.0
    unreachable = ConfirmingPublisher("amqp://guest:guest@127.0.0.1:1//", confirm_timeout=1)
    dispatch = AfterCommitDispatch(databases={"orders"}, publisher=unreachable)
    message = InventoryReserved(
        saga_id=uuid.uuid4(), order_id=7, lines=(StockLine(product_id=5, quantity=1),), success=True
    )
    with dispatching_after_commit(dispatch), transaction.atomic(using="orders"):
        outbox_enqueue(using="orders", message=message)

    assert dispatch.flush() == 0
    row = outbox.get()
    assert row.dispatched_at is None
    # Having failed, it stands aside for the grace: the next rows go the relay's way at once.
    with dispatching_after_commit(dispatch), transaction.atomic(using="orders"):
        outbox_enqueue(using="orders", message=dataclasses.replace(message, order_id=8))
    assert dispatch.pending == {}
    assert outbox.get(payload__order_id=8).retry_at is None
    relay = ConfirmingPublisher(rabbitmq_vhost, confirm_timeout=10)
    try:
        assert relay_dispatch_batch(using="orders", publisher=relay, batch_size=10).published == 1
        time.sleep(max(0.0, (row.retry_at - timezone.now()).total_seconds()) + 0.1)
        assert relay_dispatch_batch(using="orders", publisher=relay, batch_size=10).published == 1
    finally:
        relay.close()
    assert not outbox.filter(dispatched_at__isnull=True).exists()
    received = [message.properties["message_id"] for message in order_events(rabbitmq_vhost)]
    assert received[1] == str(row.message_id)


def test_a_rolled_back_transaction_leaves_nothing_to_publish(rabbitmq_vhost):
    publisher = ConfirmingPublisher(rabbitmq_vhost, confirm_timeout=10)
    dispatch = AfterCommitDispatch(databases={"orders"}, publisher=publisher)
    message = InventoryReserved(
        saga_id=uuid.uuid4(), order_id=8, lines=(StockLine(product_id=5, quantity=1),), success=True
    )
    try:
        with dispatching_after_commit(dispatch):
            with contextlib.suppress(RuntimeError), transaction.atomic(using="orders"):
                outbox_enqueue(using="orders", message=message)
                raise RuntimeError
            assert dispatch.flush() == 0
    finally:
        publisher.close()
    assert not outbox.exists()
    assert dispatch.pending == {}


def test_switched_off_the_rows_are_left_to_the_relay(run_consumer, rabbitmq_vhost, settings):
    settings.OUTBOX_DISPATCH_AFTER_COMMIT = False
    run_consumer(reply)
    publish(rabbitmq_vhost, reserve_body())

    wait_for(outbox.exists, "the reply written")
    time.sleep(0.3)
    row = outbox.get()
    assert row.dispatched_at is None
    assert row.retry_at is None


@pytest.mark.django_db(databases=["default", "orders"], transaction=True)
def test_the_web_publishes_what_a_request_committed_once_the_response_is_closed(
    rabbitmq_vhost, operator_client, settings
):
    settings.WEB_DISPATCH_AFTER_RESPONSE = True
    body = {"user_id": 1, "product_id": 5, "quantity": 1, "total_amount": "2.50"}

    response = operator_client.post("/orders", body, format="json")

    assert response.status_code == 201
    # The test client closes the response as a server does after sending it; the mark follows shortly.
    wait_for(lambda: outbox.get().dispatched_at is not None, "the row marked dispatched")
    row = outbox.get()
    with Connection(rabbitmq_vhost) as connection:
        message = connection.default_channel.basic_get("inventory.commands", no_ack=True)
    assert message.properties["message_id"] == str(row.message_id)
    assert (
        json.loads(message.body)
        == row.payload
        == {
            "saga_id": response.json()["saga_id"],
            "order_id": response.json()["order_id"],
            "lines": [{"product_id": 5, "quantity": 1}],
            "product_id": 5,
            "quantity": 1,
            "price_override": True,
        }
    )
