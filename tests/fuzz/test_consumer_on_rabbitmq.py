"""A real consumer on RabbitMQ fed random garbage keeps consuming, and good messages still land."""

import json
import random
import threading
import time
import uuid
from decimal import Decimal

import pytest
from kombu import Connection, Producer

from apps.inventory.models import Inventory, InventoryLog
from apps.messaging.consumer import ConsumerSpec, ConsumerWorker
from apps.messaging.tests.signed import signature_headers

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.rabbitmq,
    # default too: Django asks it whether an INSERT can return the columns a database default fills.
    pytest.mark.django_db(databases=["default", "inventory"], transaction=True),
]

GARBAGE = 150
GOOD = 20
PRODUCT = 6001


def garbage(rng: random.Random) -> dict:
    """A message no contract accepts: random bytes, broken JSON, or JSON of the wrong shape; odd headers."""
    body = rng.choice(
        [
            lambda: rng.randbytes(rng.randint(0, 200)),
            lambda: b'{"saga_id": ' + rng.randbytes(10),
            lambda: json.dumps([rng.random() for _ in range(rng.randint(0, 5))]).encode(),
            lambda: json.dumps({"order_id": rng.randint(-(2**31), 2**31), "quantity": "x"}).encode(),
            lambda: json.dumps(
                {"saga_id": str(uuid.uuid4()), "order_id": 2**80, "product_id": 1, "quantity": 1}
            ).encode(),
        ]
    )()
    headers = {
        rng.choice(["trace_id", "traceparent", "x-original-routing-key", "x-retry-count", "junk"]): rng.choice(
            [None, rng.randint(-(2**31), 2**31), "x" * rng.randint(0, 300), [1, "a"], {"k": "v"}, True, 1.5]
        )
        for _ in range(rng.randint(0, 4))
    }
    return {
        "body": body,
        "routing_key": rng.choice(["inventory.reserve", "inventory.release", "inventory.commit"]),
        "message_id": rng.choice([None, str(uuid.uuid4()), "not-a-uuid", ""]),
        "headers": headers,
    }


def good(order_id: int) -> dict:
    body = {"saga_id": str(uuid.uuid4()), "order_id": order_id, "product_id": PRODUCT, "quantity": 1}
    message_id = str(uuid.uuid4())
    return {
        "body": json.dumps(body).encode(),
        "routing_key": "inventory.reserve",
        "message_id": message_id,
        "headers": {
            "trace_id": "good",
            **signature_headers(routing_key="inventory.reserve", body=body, message_id=message_id),
        },
    }


def depth(url: str, queue: str) -> int:
    with Connection(url) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


def wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_consumer_fed_garbage_keeps_consuming_and_good_messages_land(rabbitmq_vhost):
    Inventory.objects.create(product_id=PRODUCT, available_qty=1000, unit_price=Decimal("1.00"))
    worker = ConsumerWorker(ConsumerSpec.from_settings("inventory"), url=rabbitmq_vhost, prefetch=10)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: _declared(rabbitmq_vhost), "the consumer declared its queues")
        rng = random.Random(20261125)
        messages = [garbage(rng) for _ in range(GARBAGE)]
        for n in range(GOOD):
            messages.insert(rng.randint(0, len(messages)), good(order_id=n + 1))
        with Connection(rabbitmq_vhost, transport_options={"confirm_publish": True}) as connection:
            producer = Producer(connection)
            for message in messages:
                properties = {"message_id": message["message_id"]} if message["message_id"] is not None else {}
                producer.publish(
                    message["body"],
                    exchange="saga.commands",
                    routing_key=message["routing_key"],
                    headers=message["headers"],
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    **properties,
                )

        wait_for(
            lambda: (
                InventoryLog.objects.filter(product_id=PRODUCT, action="RESERVE", outcome="APPLIED").count() == GOOD
            ),
            "every good reservation applied",
        )
        wait_for(lambda: depth(rabbitmq_vhost, "inventory.commands.dlq") == GARBAGE, "every garbage message in the DLQ")

        assert thread.is_alive()
        assert depth(rabbitmq_vhost, "inventory.commands") == 0
        assert depth(rabbitmq_vhost, "inventory.commands.retry") == 0
        assert Inventory.objects.get(product_id=PRODUCT).reserved_qty == GOOD
    finally:
        worker.stopping.set()
        thread.join(15)


def _declared(url: str) -> bool:
    try:
        depth(url, "inventory.commands.dlq")
    except Exception:
        return False
    return True
