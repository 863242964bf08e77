"""The support person reads the outbox and redrives a dead letter, in a browser, on MariaDB and RabbitMQ."""

import re
import uuid
from datetime import timedelta

import amqp
import pytest
from django.utils import timezone
from kombu import Connection
from playwright.sync_api import expect

from apps.messaging.models import OutboxMessage
from apps.messaging.topology import declare_topology
from tests.browser.conftest import ALL_DATABASES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)]


def outbox_row(*, routing_key: str, age: timedelta, dispatched: bool) -> OutboxMessage:
    row = OutboxMessage.objects.using("orders").create(
        exchange="saga.commands",
        routing_key=routing_key,
        message_type="ReserveInventory",
        payload={"order_id": 1},
        saga_id=uuid.uuid4(),
    )
    created_at = timezone.now() - age
    OutboxMessage.objects.using("orders").filter(pk=row.pk).update(
        created_at=created_at, dispatched_at=created_at + timedelta(seconds=1) if dispatched else None
    )
    return row


def test_the_outbox_lists_a_pending_and_a_dispatched_row_with_their_ages(admin_page):
    pending = outbox_row(routing_key="inventory.reserve", age=timedelta(minutes=5), dispatched=False)
    dispatched = outbox_row(routing_key="payment.process", age=timedelta(hours=2), dispatched=True)

    admin_page.get_by_role("link", name="Outbox messages").click()

    expect(admin_page.locator("h1")).to_have_text("Outbox messages in the orders database")
    rows = admin_page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    pending_row = rows.filter(has_text=str(pending.saga_id))
    expect(pending_row.locator("td.field-status")).to_have_text("pending")
    expect(pending_row.locator("td.field-age")).to_have_text(re.compile(r"^5\s+minutes$"))
    expect(pending_row.locator("td.field-routing_key")).to_have_text("inventory.reserve")
    dispatched_row = rows.filter(has_text=str(dispatched.saga_id))
    expect(dispatched_row.locator("td.field-status")).to_have_text("dispatched")
    expect(dispatched_row.locator("td.field-age")).to_have_text(re.compile(r"^2\s+hours$"))

    admin_page.locator("#changelist-filter").get_by_role("link", name="Pending").click()

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(str(pending.saga_id))


def put_in_dlq(url: str, *, message_id: str) -> None:
    """A dead letter of inventory.commands as the consumer leaves it, confirmed before the page looks."""
    with Connection(url, transport_options={"confirm_publish": True}) as connection:
        channel = connection.default_channel
        declare_topology(channel)
        channel.basic_publish(
            amqp.Message(
                b'{"order_id": 7, "lines": "<b>not a list</b>"}',
                content_type="application/json",
                delivery_mode=2,
                message_id=message_id,
                application_headers={
                    "x-original-exchange": "saga.commands",
                    "x-original-routing-key": "inventory.reserve",
                    "x-dead-letter-reason": "malformed message: lines is not a list",
                    "x-retry-count": 3,
                },
            ),
            exchange="",
            routing_key="inventory.commands.dlq",
        )


@pytest.mark.rabbitmq
def test_a_dead_letter_is_shown_with_its_reason_and_redriven_onto_its_work_queue(admin_page, rabbitmq_vhost, settings):
    settings.DLQ_BROKER_URL = ""
    message_id = str(uuid.uuid4())
    put_in_dlq(rabbitmq_vhost, message_id=message_id)

    admin_page.get_by_role("link", name="Dead-letter queues").click()
    depths = admin_page.locator("#dlq-depths tbody tr")
    expect(depths.filter(has_text="inventory.commands.dlq").locator("td.dlq-depth")).to_have_text("1")
    expect(depths.filter(has_text="payment.commands.dlq").locator("td.dlq-depth")).to_have_text("0")
    admin_page.get_by_role("link", name="inventory.commands.dlq").click()

    letter = admin_page.locator(f'.dead-letter[data-message-id="{message_id}"]')
    expect(letter.locator(".dlq-reason")).to_have_text("malformed message: lines is not a list")
    expect(letter.locator(".dlq-body")).to_contain_text('"lines": "<b>not a list</b>"')
    letter.get_by_role("button", name="Redrive this message").click()
    expect(admin_page.locator("h1")).to_have_text(f"Redrive message {message_id}?")
    admin_page.get_by_role("button", name="Yes, redrive").click()

    expect(admin_page.locator(".messagelist")).to_contain_text(
        f"Redrove 1 message(s) from inventory.commands.dlq: {message_id}."
    )
    expect(admin_page.locator(".dlq-empty")).to_have_text("inventory.commands.dlq is empty.")
    with Connection(rabbitmq_vhost) as connection:
        redriven = connection.default_channel.basic_get("inventory.commands", no_ack=True)
    assert redriven is not None, "the message is back on its work queue"
    assert redriven.properties["message_id"] == message_id
    assert redriven.properties["application_headers"]["x-retry-count"] == 0
    assert redriven.delivery_info["exchange"] == "saga.commands"
    assert redriven.delivery_info["routing_key"] == "inventory.reserve"
