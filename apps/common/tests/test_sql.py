"""The lean statements write and read the rows the ORM would (on SQLite here, on MariaDB in pass 2)."""

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.common.sql import (
    sql_create,
    sql_execute,
    sql_insert,
    sql_instance,
    sql_param,
    sql_rows,
    sql_uuid,
)
from apps.messaging.models import InboxMessage, OutboxMessage

pytestmark = pytest.mark.django_db(databases=["orders"])


def test_an_inserted_row_reads_back_as_the_orm_would_have_written_it():
    message_id, saga_id = uuid.uuid4(), uuid.uuid4()
    pk = sql_insert(
        using="orders",
        model=OutboxMessage,
        values={
            "message_id": message_id,
            "exchange": "saga.commands",
            "routing_key": "inventory.reserve",
            "message_type": "ReserveInventory",
            "payload": {"order_id": 7, "amount": str(Decimal("9.50")), "note": "naïve"},
            "saga_id": saga_id,
        },
    )

    row = OutboxMessage.objects.using("orders").get(pk=pk)
    assert (row.message_id, row.saga_id) == (message_id, saga_id)
    assert row.payload == {"order_id": 7, "amount": "9.50", "note": "naïve"}
    assert (row.trace_id, row.publish_attempts, row.dispatched_at, row.retry_at) == ("", 0, None, None)
    assert row.created_at.tzinfo is not None


def test_a_unique_violation_raises_integrity_error_like_create():
    values = {"message_id": uuid.uuid4(), "queue": "q", "routing_key": "k"}
    sql_insert(using="orders", model=InboxMessage, values=values)

    with pytest.raises(IntegrityError), transaction.atomic(using="orders"):
        sql_insert(using="orders", model=InboxMessage, values=values)
    assert InboxMessage.objects.using("orders").filter(message_id=values["message_id"]).count() == 1


def test_statements_take_encoded_parameters_and_return_counts_and_rows():
    message_id = uuid.uuid4()
    sql_insert(using="orders", model=InboxMessage, values={"message_id": message_id, "queue": "q", "routing_key": "k"})
    param = sql_param(using="orders", model=InboxMessage, field="message_id", value=message_id)

    with transaction.atomic(using="orders"):
        rows = sql_rows(
            using="orders",
            sql="SELECT message_id, queue FROM messaging_inbox WHERE message_id = %s",
            params=[param],
            for_update=True,
        )
    changed = sql_execute(
        using="orders", sql="UPDATE messaging_inbox SET queue = %s WHERE message_id = %s", params=["q2", param]
    )

    assert [(sql_uuid(found), queue) for found, queue in rows] == [(message_id, "q")]
    assert changed == 1
    assert InboxMessage.objects.using("orders").get(message_id=message_id).queue == "q2"


def test_sql_create_returns_the_instance_the_row_reads_back_as():
    created = sql_create(
        using="orders",
        model=OutboxMessage,
        values={
            "message_id": uuid.uuid4(),
            "exchange": "saga.commands",
            "routing_key": "payment.process",
            "message_type": "ProcessPayment",
            "payload": {"amount": 19.98},
            "saga_id": uuid.uuid4(),
        },
    )

    assert not created._state.adding
    assert created._state.db == "orders"
    assert _fields(created) == _fields(OutboxMessage.objects.using("orders").get(pk=created.pk))


def test_sql_instance_loads_a_row_as_the_orm_does_and_defers_the_rest():
    stored = OutboxMessage.objects.using("orders").create(
        message_id=uuid.uuid4(),
        exchange="saga.commands",
        routing_key="inventory.reserve",
        message_type="ReserveInventory",
        payload={"quantity": 2},
        saga_id=uuid.uuid4(),
    )
    fields = ("id", "message_id", "saga_id", "payload", "created_at", "dispatched_at")
    [row] = sql_rows(
        using="orders",
        sql=f"SELECT {', '.join(fields)} FROM messaging_outbox WHERE id = %s",
        params=[stored.pk],
    )

    loaded = sql_instance(using="orders", model=OutboxMessage, fields=fields, row=row)

    assert {name: getattr(loaded, name) for name in fields} == {name: getattr(stored, name) for name in fields}
    assert loaded.created_at.tzinfo is not None
    assert "routing_key" in loaded.get_deferred_fields()
    assert loaded.routing_key == "inventory.reserve"


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}
