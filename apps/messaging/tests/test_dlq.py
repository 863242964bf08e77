"""The DLQ tooling on a real RabbitMQ (and MariaDB for the consumer): show, redrive, purge, list."""

import io
import json
import time
import uuid
from datetime import UTC, datetime

import amqp
import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from kombu import Connection, Producer

from apps.messaging.consumer import Unprocessable
from apps.messaging.contracts import InventoryReserved, ReserveInventory, StockLine
from apps.messaging.dlq import UnknownQueue, dlq_resolve
from apps.messaging.models import InboxMessage, OutboxMessage
from apps.messaging.outbox import outbox_enqueue
from apps.messaging.tests.signed import signature_headers
from apps.messaging.tests.workers import running_consumer, wait_for
from apps.messaging.topology import WORK_QUEUES, declare_topology

DLQ = "inventory.commands.dlq"


def dlq(*args: str) -> str:
    out = io.StringIO()
    call_command("dlq", *args, stdout=out, stderr=out)
    return out.getvalue()


def depth(url: str, queue: str) -> int:
    with Connection(url) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


def take_all(url: str, queue: str) -> list[amqp.Message]:
    with Connection(url) as connection:
        channel = connection.default_channel
        channel.auto_decode = False
        messages = []
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            messages.append(message)
        return messages


def declare(url: str) -> None:
    with Connection(url) as connection:
        declare_topology(connection.default_channel)


def put_in_dlq(url: str, *, message_id: str, body: bytes = b"{}", headers: dict | None = None, **properties) -> None:
    """A dead letter as the consumer runtime leaves it."""
    headers = {
        "trace_id": "t-dlq",
        "x-retry-count": 3,
        "x-original-exchange": "saga.commands",
        "x-original-routing-key": "inventory.reserve",
        "x-dead-letter-reason": "gave up after 3 retries: OperationalError",
        **(headers or {}),
    }
    message = amqp.Message(
        body,
        content_type="application/json",
        delivery_mode=2,
        message_id=message_id,
        application_headers=headers,
        **properties,
    )
    # Confirmed, so the letter is in the DLQ before the test looks from another connection.
    with Connection(url, transport_options={"confirm_publish": True}) as connection:
        connection.default_channel.basic_publish(message, exchange="", routing_key=DLQ)


def test_queue_names_are_accepted_with_or_without_dlq():
    assert dlq_resolve(queue="payment.commands").dlq_name == "payment.commands.dlq"
    assert dlq_resolve(queue="payment.commands.dlq") is WORK_QUEUES["payment.commands"]
    with pytest.raises(UnknownQueue):
        dlq_resolve(queue="payment.commands.retry")
    with pytest.raises(CommandError, match="unknown queue"):
        dlq("show", "nope")


def test_the_embedded_broker_is_refused_with_a_pointer_to_the_admin_page(settings):
    settings.MESSAGING_BROKER_URL = "memory://"
    settings.DLQ_BROKER_URL = ""
    # Another process would find its own empty in-process broker, not make run's: each action is refused.
    for action in (["list"], ["show", "inventory.commands"], ["redrive", "inventory.commands"]):
        with pytest.raises(CommandError, match="embedded broker") as refused:
            dlq(*action)
        assert "/admin/messaging/deadletterqueue/" in str(refused.value)


@pytest.fixture
def consumer(rabbitmq_vhost, settings):
    """An inventory.commands consumer on the orders database whose handler is broken until fixed."""
    settings.RETRY_MAX_ATTEMPTS = 1
    settings.RETRY_DELAY_MS = 100
    state = {"broken": True, "effects": []}

    def handler(message, context):
        if state["broken"]:
            if message.order_id == 2:
                raise Unprocessable("no such saga")
            raise OperationalError(1205, "Lock wait timeout exceeded")
        state["effects"].append(context.message_id)
        answer = InventoryReserved(
            saga_id=message.saga_id,
            order_id=message.order_id,
            lines=message.lines,
            success=True,
        )
        outbox_enqueue(using="orders", message=answer)

    with running_consumer(rabbitmq_vhost, handler):
        wait_for(lambda: "missing" not in dlq("list"), "the consumer declared its queues")
        yield state


def publish_reserve(url: str, *, order_id: int) -> str:
    message_id = str(uuid.uuid4())
    body = ReserveInventory(
        saga_id=uuid.uuid4(), order_id=order_id, lines=(StockLine(product_id=5, quantity=1),)
    ).to_body()
    with Connection(url) as connection:
        Producer(connection).publish(
            json.dumps(body).encode(),
            exchange="saga.commands",
            routing_key="inventory.reserve",
            message_id=message_id,
            headers={
                "trace_id": f"t-{order_id}",
                "x-retry-count": 0,
                **signature_headers(routing_key="inventory.reserve", body=body, message_id=message_id),
            },
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )
    return message_id


@pytest.mark.mariadb
@pytest.mark.rabbitmq
@pytest.mark.django_db(databases=["orders"], transaction=True)
def test_dead_letters_are_shown_in_place_then_redriven_and_take_effect_once(consumer, rabbitmq_vhost):
    retried = publish_reserve(rabbitmq_vhost, order_id=1)
    unprocessable = publish_reserve(rabbitmq_vhost, order_id=2)
    wait_for(lambda: depth(rabbitmq_vhost, DLQ) == 2, "both messages dead-lettered")

    shown = dlq("show", "inventory.commands")

    assert dlq("show", "inventory.commands.dlq") == shown, "a second look sees the same messages in the same order"
    assert depth(rabbitmq_vhost, DLQ) == 2
    assert shown.index(unprocessable) < shown.index(retried), "the order of the queue"
    assert "gave up after 1 retries: OperationalError" in shown
    assert "unprocessable: no such saga" in shown
    assert shown.count("x-original-exchange     saga.commands") == 2
    assert shown.count("x-original-routing-key  inventory.reserve") == 2
    assert "x-retry-count           1" in shown
    assert '"order_id":1' in shown.replace(" ", "")
    assert "2 message(s) shown, none taken off the queue" in shown
    assert f"{DLQ:<22}  2" in dlq("list")

    consumer["broken"] = False
    assert "redrove 2 message(s)" in dlq("redrive", "inventory.commands")

    wait_for(lambda: OutboxMessage.objects.using("orders").count() == 2, "both redriven messages handled")
    time.sleep(0.5)
    assert depth(rabbitmq_vhost, DLQ) == 0
    assert sorted(map(str, consumer["effects"])) == sorted([retried, unprocessable])
    inbox = InboxMessage.objects.using("orders")
    assert sorted(str(row.message_id) for row in inbox) == sorted([retried, unprocessable])
    assert OutboxMessage.objects.using("orders").count() == 2


@pytest.mark.rabbitmq
def test_redrive_copies_the_message_exactly_and_resets_the_retry_count(rabbitmq_vhost):
    declare(rabbitmq_vhost)
    message_id = str(uuid.uuid4())
    sent_at = int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    put_in_dlq(
        rabbitmq_vhost,
        message_id=message_id,
        body=b"\xff\xfe not utf-8",
        type="ReserveInventory",
        correlation_id="corr-1",
        timestamp=sent_at,
        content_encoding="utf-8",
        headers={"x-schema-version": 1, "saga_id": "s-1"},
    )

    assert "redrove 1 message(s)" in dlq("redrive", DLQ)

    [message] = take_all(rabbitmq_vhost, "inventory.commands")
    assert message.body == b"\xff\xfe not utf-8"
    assert message.delivery_info["exchange"] == "saga.commands"
    assert message.delivery_info["routing_key"] == "inventory.reserve"
    properties = message.properties
    assert (properties["message_id"], properties["type"], properties["correlation_id"]) == (
        message_id,
        "ReserveInventory",
        "corr-1",
    )
    assert (properties["delivery_mode"], properties["content_type"]) == (2, "application/json")
    assert properties["timestamp"] == sent_at
    assert properties["application_headers"] == {
        "trace_id": "t-dlq",
        "saga_id": "s-1",
        "x-schema-version": 1,
        "x-retry-count": 0,
        "x-original-exchange": "saga.commands",
        "x-original-routing-key": "inventory.reserve",
        "x-dead-letter-reason": "gave up after 3 retries: OperationalError",
    }
    assert depth(rabbitmq_vhost, DLQ) == 0


@pytest.mark.rabbitmq
def test_redrive_of_one_message_id_leaves_the_others_in_order(rabbitmq_vhost):
    declare(rabbitmq_vhost)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    for message_id in ids:
        put_in_dlq(rabbitmq_vhost, message_id=message_id)

    assert "redrove 1 message(s)" in dlq("redrive", "inventory.commands", "--message-id", ids[1])
    with pytest.raises(CommandError, match="no message"):
        dlq("redrive", "inventory.commands", "--message-id", str(uuid.uuid4()))

    assert [m.properties["message_id"] for m in take_all(rabbitmq_vhost, "inventory.commands")] == [ids[1]]
    assert [m.properties["message_id"] for m in take_all(rabbitmq_vhost, DLQ)] == [ids[0], ids[2], ids[3]]


@pytest.mark.rabbitmq
def test_redrive_limit_takes_from_the_head(rabbitmq_vhost):
    declare(rabbitmq_vhost)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for message_id in ids:
        put_in_dlq(rabbitmq_vhost, message_id=message_id)

    assert "redrove 2 message(s)" in dlq("redrive", "inventory.commands", "--limit", "2")

    assert [m.properties["message_id"] for m in take_all(rabbitmq_vhost, "inventory.commands")] == ids[:2]
    assert [m.properties["message_id"] for m in take_all(rabbitmq_vhost, DLQ)] == ids[2:]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.rabbitmq
def test_redrive_shows_its_progress_on_a_terminal_stderr_only(rabbitmq_vhost):
    declare(rabbitmq_vhost)
    for _ in range(3):
        put_in_dlq(rabbitmq_vhost, message_id=str(uuid.uuid4()))
    out, err = io.StringIO(), FakeTerminal()

    call_command("dlq", "redrive", "inventory.commands", "--limit", "2", stdout=out, stderr=err)

    assert out.getvalue() == "redrove 2 message(s)\n"
    assert "redriving inventory.commands" in err.getvalue()
    assert "2/2" in err.getvalue(), "the limit is the budget"


@pytest.mark.rabbitmq
def test_a_message_the_broker_cannot_route_stays_in_the_dlq(rabbitmq_vhost):
    declare(rabbitmq_vhost)
    unroutable, no_exchange, fine = (str(uuid.uuid4()) for _ in range(3))
    put_in_dlq(rabbitmq_vhost, message_id=unroutable, headers={"x-original-routing-key": "nobody.listens"})
    put_in_dlq(rabbitmq_vhost, message_id=no_exchange, headers={"x-original-exchange": "no.such.exchange"})
    put_in_dlq(rabbitmq_vhost, message_id=fine)

    with pytest.raises(CommandError, match="2 message"):
        dlq("redrive", DLQ)

    assert [m.properties["message_id"] for m in take_all(rabbitmq_vhost, "inventory.commands")] == [fine]
    assert [m.properties["message_id"] for m in take_all(rabbitmq_vhost, DLQ)] == [unroutable, no_exchange]


@pytest.mark.rabbitmq
def test_a_message_without_original_headers_goes_back_to_its_work_queue(rabbitmq_vhost):
    declare(rabbitmq_vhost)
    message_id = str(uuid.uuid4())
    with Connection(rabbitmq_vhost, transport_options={"confirm_publish": True}) as connection:
        channel = connection.default_channel
        channel.basic_publish(
            amqp.Message(b"{}", message_id=message_id), exchange="", routing_key="payment.commands.dlq"
        )

    dlq("redrive", "payment.commands")

    [message] = take_all(rabbitmq_vhost, "payment.commands")
    assert message.properties["message_id"] == message_id
    assert message.properties["application_headers"] == {"x-retry-count": 0}


@pytest.mark.rabbitmq
def test_purge_asks_first_unless_yes(rabbitmq_vhost, monkeypatch):
    declare(rabbitmq_vhost)
    for _ in range(2):
        put_in_dlq(rabbitmq_vhost, message_id=str(uuid.uuid4()))
    questions = []
    monkeypatch.setattr("builtins.input", lambda question: questions.append(question) or "no")

    assert "nothing purged" in dlq("purge", "inventory.commands")
    assert questions == [f"Delete every message in {DLQ}? This cannot be undone. [y/N] "]
    assert depth(rabbitmq_vhost, DLQ) == 2

    monkeypatch.setattr("builtins.input", lambda question: "y")
    assert f"purged 2 message(s) from {DLQ}" in dlq("purge", DLQ)
    put_in_dlq(rabbitmq_vhost, message_id=str(uuid.uuid4()))

    assert f"purged 1 message(s) from {DLQ}" in dlq("purge", DLQ, "--yes")
    assert depth(rabbitmq_vhost, DLQ) == 0


@pytest.mark.rabbitmq
def test_list_and_show_on_a_broker_without_the_topology(rabbitmq_vhost):
    listing = dlq("list")
    assert "order.events.dlq        missing" in listing
    assert dlq("show", "order.events") == "order.events.dlq is empty\n"

    declare(rabbitmq_vhost)
    put_in_dlq(rabbitmq_vhost, message_id=str(uuid.uuid4()))
    listing = dlq("list").splitlines()
    assert listing == [
        "queue                   messages",
        "inventory.commands.dlq  1",
        "payment.commands.dlq    0",
        "order.events.dlq        0",
    ]
