"""The relay against MariaDB and RabbitMQ: confirms, mandatory returns, SKIP LOCKED, two relays, the follower."""

import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone
from kombu import Connection

from apps.common.tests.tracing import continues
from apps.messaging.contracts import ReserveInventory, StockLine
from apps.messaging.follower import RelayFollower, relay_follows
from apps.messaging.models import OutboxMessage
from apps.messaging.publisher import ConfirmingPublisher
from apps.messaging.relay import relay_dispatch_batch, relay_drain, relay_has_claimable

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.rabbitmq,
    pytest.mark.django_db(databases=["orders"], transaction=True),
]


def add_rows(count: int, *, routing_key: str = "inventory.reserve") -> list[OutboxMessage]:
    rows = []
    for order_id in range(1, count + 1):
        message = ReserveInventory(
            saga_id=uuid.uuid4(), order_id=order_id, lines=(StockLine(product_id=1, quantity=1),)
        )
        rows.append(
            OutboxMessage(
                exchange=message.exchange,
                routing_key=routing_key,
                message_type="ReserveInventory",
                payload=message.to_body(),
                traceparent=f"00-{order_id:032x}-{order_id:016x}-01",
                saga_id=message.saga_id,
            )
        )
    return OutboxMessage.objects.using("orders").bulk_create(rows, batch_size=1000)


def queue_depth(url: str, queue: str) -> int:
    with Connection(url) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


def test_relay_publishes_persistent_messages_with_ids_and_marks_them(rabbitmq_vhost):
    add_rows(3)
    publisher = ConfirmingPublisher(rabbitmq_vhost, confirm_timeout=10)

    published = relay_drain(using="orders", publisher=publisher)

    assert published == 3
    assert OutboxMessage.objects.using("orders").filter(dispatched_at__isnull=True).count() == 0
    with Connection(rabbitmq_vhost) as connection:
        message = connection.default_channel.basic_get("inventory.commands", no_ack=True)
    row = OutboxMessage.objects.using("orders").get(message_id=message.properties["message_id"])
    headers = message.properties["application_headers"]
    assert message.properties["delivery_mode"] == 2
    assert message.properties["content_type"] == "application/json"
    assert (headers["trace_id"], headers["saga_id"], headers["x-retry-count"]) == (
        row.traceparent[3:35],
        str(row.saga_id),
        0,
    )
    # The relay's publish span, a child of the span that wrote the row.
    assert continues(headers["traceparent"], row.traceparent)
    assert json.loads(message.body) == row.payload
    publisher.close()


def test_unroutable_message_stays_in_the_outbox_and_is_recorded(rabbitmq_vhost):
    add_rows(2)
    add_rows(1, routing_key="nobody.listens")
    publisher = ConfirmingPublisher(rabbitmq_vhost, confirm_timeout=10)

    result = relay_dispatch_batch(using="orders", publisher=publisher, batch_size=10)

    assert (result.claimed, result.published, result.failed) == (3, 2, 1)
    stuck = OutboxMessage.objects.using("orders").get(dispatched_at__isnull=True)
    assert stuck.routing_key == "nobody.listens"
    assert stuck.publish_attempts == 1
    assert "unroutable" in stuck.last_error
    assert stuck.retry_at is not None
    assert queue_depth(rabbitmq_vhost, "inventory.commands") == 2
    publisher.close()


def test_a_claimed_batch_is_skipped_by_another_relay(rabbitmq_vhost):
    add_rows(20)
    claimed_by_first = []
    first_holds = threading.Event()
    release_first = threading.Event()

    def first_relay():
        try:
            with transaction.atomic(using="orders"):
                rows = OutboxMessage.objects.using("orders").select_for_update(skip_locked=True)
                rows = rows.filter(dispatched_at__isnull=True).order_by("id")[:5]
                claimed_by_first.extend(row.pk for row in rows)
                first_holds.set()
                release_first.wait(10)
        finally:
            connections["orders"].close()

    thread = threading.Thread(target=first_relay)
    thread.start()
    assert first_holds.wait(10)
    publisher = ConfirmingPublisher(rabbitmq_vhost, confirm_timeout=10)
    try:
        result = relay_dispatch_batch(using="orders", publisher=publisher, batch_size=100)
    finally:
        release_first.set()
        thread.join()
        publisher.close()

    assert result.published == 15
    undispatched = set(
        OutboxMessage.objects.using("orders").filter(dispatched_at__isnull=True).values_list("pk", flat=True)
    )
    assert undispatched == set(claimed_by_first)


def test_two_relays_drain_one_backlog_once(rabbitmq_vhost):
    add_rows(2000)
    counts = {}

    def relay(name):
        publisher = ConfirmingPublisher(rabbitmq_vhost, confirm_timeout=30)
        try:
            counts[name] = relay_drain(using="orders", publisher=publisher, batch_size=100)
        finally:
            publisher.close()
            connections["orders"].close()

    threads = [threading.Thread(target=relay, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counts["a"] + counts["b"] == 2000
    assert counts["a"] > 0
    assert counts["b"] > 0
    assert OutboxMessage.objects.using("orders").filter(dispatched_at__isnull=True).count() == 0
    assert queue_depth(rabbitmq_vhost, "inventory.commands") == 2000


def test_a_backlog_is_drained_by_two_threads_each_row_once(rabbitmq_vhost, caplog):
    add_rows(2000)
    publisher = ConfirmingPublisher(rabbitmq_vhost, confirm_timeout=30)
    caplog.set_level("INFO", logger="messaging.relay")
    try:
        published = relay_drain(using="orders", publisher=publisher, batch_size=100, drainers=2)
    finally:
        publisher.close()

    assert published == 2000
    [drained] = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "relay.drained"]
    assert len(drained["drainers"]) == 2
    assert all(count > 0 for count in drained["drainers"]), drained
    assert OutboxMessage.objects.using("orders").filter(dispatched_at__isnull=True).count() == 0
    assert queue_depth(rabbitmq_vhost, "inventory.commands") == 2000


def wait_for(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_follower_publishes_what_commits_while_it_runs_and_leaves_held_back_rows(rabbitmq_vhost, settings):
    settings.MESSAGING_BROKER_URL = rabbitmq_vhost
    held_back = add_rows(1, routing_key="inventory.release")[0]
    OutboxMessage.objects.using("orders").filter(pk=held_back.pk).update(retry_at=timezone.now() + timedelta(minutes=5))
    follower = RelayFollower(databases=["orders"], interval=0.02).start()
    try:
        with transaction.atomic(using="orders"):
            add_rows(3)
        undispatched = OutboxMessage.objects.using("orders").filter(dispatched_at__isnull=True)
        wait_for(lambda: undispatched.count() == 1, "the committed rows marked")
    finally:
        follower.stop()

    assert not follower.thread.is_alive()
    assert list(undispatched.values_list("pk", flat=True)) == [held_back.pk]
    assert queue_depth(rabbitmq_vhost, "inventory.commands") == 3


def test_the_probe_sees_only_claimable_rows():
    assert relay_has_claimable(using="orders") is False
    [row] = add_rows(1)
    OutboxMessage.objects.using("orders").filter(pk=row.pk).update(retry_at=timezone.now() + timedelta(minutes=5))
    assert relay_has_claimable(using="orders") is False
    OutboxMessage.objects.using("orders").filter(pk=row.pk).update(retry_at=None)
    assert relay_has_claimable(using="orders") is True


def test_commits_on_a_followed_database_send_no_nudge(settings):
    settings.RELAY_FOLLOW = ["orders"]
    settings.RELAY_FOLLOW_INTERVAL_MS = 20.0
    assert relay_follows("orders")
    assert not relay_follows("inventory")
    settings.RELAY_FOLLOW_INTERVAL_MS = 0
    assert not relay_follows("orders")
