"""The lean statements write and read the rows the ORM would (on SQLite here, on MariaDB in pass 2)."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, connections, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from apps.common.sql import (
    BatchFailed,
    sql_batch,
    sql_create,
    sql_execute,
    sql_insert,
    sql_insert_later,
    sql_instance,
    sql_param,
    sql_rows,
    sql_savepoint,
    sql_uuid,
)
from apps.common.tests.sql import AWARE_DATETIMES, prepared_both_ways
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
    assert (row.traceparent, row.publish_attempts, row.dispatched_at, row.retry_at) == ("", 0, None, None)
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


def inbox(queue: str) -> list[tuple]:
    return list(
        InboxMessage.objects.using("orders").filter(queue=queue).order_by("id").values_list("routing_key", "queue")
    )


def test_a_later_insert_outside_a_gathering_block_is_written_at_once():
    sql_insert_later(
        using="orders", model=InboxMessage, values={"message_id": uuid.uuid4(), "queue": "q", "routing_key": "a"}
    )

    assert inbox("q") == [("a", "q")]


def test_gathered_inserts_are_written_at_the_end_in_order_in_one_statement_per_model():
    with transaction.atomic(using="orders"), CaptureQueriesContext(connections["orders"]) as queries:
        with sql_batch(using="orders"):
            for key in ("a", "b", "c"):
                sql_insert_later(
                    using="orders",
                    model=InboxMessage,
                    values={"message_id": uuid.uuid4(), "queue": "q", "routing_key": key},
                )
            sql_insert_later(using="orders", model=OutboxMessage, values=OUTBOX_ROW)
            assert inbox("q") == []
            assert not OutboxMessage.objects.using("orders").exists()
        # An executemany is one entry ("3 times INSERT ..."): one statement, or one C loop on SQLite.
        inserts = [query["sql"] for query in queries.captured_queries if "INSERT" in query["sql"]]

    assert inbox("q") == [("a", "q"), ("b", "q"), ("c", "q")]
    assert OutboxMessage.objects.using("orders").get().routing_key == "inventory.reserve"
    assert len(inserts) == 2


def test_gathered_inserts_of_a_block_that_raises_are_not_written():
    def failing_batch():
        with transaction.atomic(using="orders"), sql_batch(using="orders"):
            sql_insert_later(
                using="orders",
                model=InboxMessage,
                values={"message_id": uuid.uuid4(), "queue": "q", "routing_key": "a"},
            )
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        failing_batch()
    assert inbox("q") == []


def test_gathering_on_one_database_leaves_another_database_s_inserts_immediate():
    with transaction.atomic(using="orders"), sql_batch(using="inventory"):
        sql_insert_later(
            using="orders", model=InboxMessage, values={"message_id": uuid.uuid4(), "queue": "q", "routing_key": "a"}
        )
        assert inbox("q") == [("a", "q")]


OUTBOX_ROW = {
    "message_id": uuid.UUID("0c7e6f1e-8d2a-4d5b-9f3c-2a1b0c9d8e7f"),
    "exchange": "saga.commands",
    "routing_key": "inventory.reserve",
    "message_type": "ReserveInventory",
    "payload": {"order_id": 7},
    "saga_id": uuid.UUID("1d8f7a2b-9e3c-4f6a-8b1d-3c2b1a0f9e8d"),
}


def inbox_row(key: str) -> dict:
    return {"message_id": uuid.uuid4(), "queue": "q", "routing_key": key}


def test_a_savepoint_lets_the_caller_catch_an_error_and_go_on():
    twin = inbox_row("a")
    with transaction.atomic(using="orders"):
        sql_insert(using="orders", model=InboxMessage, values=twin)
        with pytest.raises(IntegrityError), sql_savepoint(using="orders"):
            sql_insert(using="orders", model=InboxMessage, values={**twin, "routing_key": "twin"})
        sql_insert(using="orders", model=InboxMessage, values=inbox_row("b"))

    assert inbox("q") == [("a", "q"), ("b", "q")]


def test_in_a_batch_a_savepoint_s_error_fails_the_batch_instead():
    twin = inbox_row("a")
    sql_insert(using="orders", model=InboxMessage, values=twin)

    def batch():
        with transaction.atomic(using="orders"), sql_batch(using="orders"):
            sql_insert_later(using="orders", model=InboxMessage, values=inbox_row("b"))
            with sql_savepoint(using="orders"):
                sql_insert(using="orders", model=InboxMessage, values={**twin, "routing_key": "twin"})

    with pytest.raises(BatchFailed) as failed:
        batch()
    assert isinstance(failed.value.__cause__, IntegrityError)
    assert inbox("q") == [("a", "q")]


@given(
    attempts=st.integers(min_value=0, max_value=2**31 - 1) | st.booleans(),
    text=st.text(max_size=100),
    traceparent=st.text(max_size=55) | st.none(),
    at=AWARE_DATETIMES | st.none(),
    payload=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
)
def test_plain_values_skip_their_field_s_preparation_only_where_it_would_return_them_as_they_are(
    attempts, text, traceparent, at, payload
):
    values = {
        "message_id": uuid.uuid4(),
        "exchange": text,
        "routing_key": "inventory.reserve",
        "message_type": text,
        "payload": payload,
        "traceparent": traceparent,
        "saga_id": None,
        "created_at": at,
        "retry_at": at,
        "publish_attempts": attempts,  # a bool is not an int here: its field prepares it (to 0 or 1)
    }
    fast, slow = prepared_both_ways(OutboxMessage, values)

    assert fast == slow
    assert [type(value) for value in fast] == [type(value) for value in slow]


@given(at=AWARE_DATETIMES | st.none())
def test_a_datetime_parameter_is_what_its_field_would_make_of_it(at):
    connection = connections["orders"]
    for field in ("created_at", "retry_at"):
        prepared = sql_param(using="orders", model=OutboxMessage, field=field, value=at)
        expected = OutboxMessage._meta.get_field(field).get_db_prep_save(at, connection)
        assert (prepared, type(prepared)) == (expected, type(expected))


def test_a_utc_timestamp_is_written_and_read_back_as_the_same_instant():
    at = datetime.datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=datetime.UTC)  # Paris changes its clocks then
    row = sql_create(
        using="orders",
        model=OutboxMessage,
        values={"message_id": uuid.uuid4(), "exchange": "x", "routing_key": "r", "message_type": "t", "payload": {}},
    )
    sql_execute(
        using="orders",
        sql="UPDATE messaging_outbox SET retry_at = %s WHERE id = %s",
        params=[sql_param(using="orders", model=OutboxMessage, field="retry_at", value=at), row.pk],
    )
    assert OutboxMessage.objects.using("orders").get(pk=row.pk).retry_at == at


def test_statements_are_logged_while_queries_are_captured_though_a_cursor_was_kept():
    sql_execute(using="orders", sql="DELETE FROM messaging_inbox WHERE queue = %s", params=["none"])  # keeps a cursor

    with CaptureQueriesContext(connections["orders"]) as queries:
        sql_rows(using="orders", sql="SELECT COUNT(*) FROM messaging_inbox")
        sql_insert(
            using="orders", model=InboxMessage, values={"message_id": uuid.uuid4(), "queue": "q", "routing_key": "r"}
        )

    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["SELECT", "INSERT"]


@pytest.mark.mariadb
@pytest.mark.django_db(databases=["orders"], transaction=True)
def test_a_connection_killed_between_requests_is_replaced_before_the_next_statement():
    connection = connections["orders"]
    assert connection.health_check_enabled
    ((first,),) = sql_rows(using="orders", sql="SELECT CONNECTION_ID()")
    other = connections.create_connection("orders")
    try:
        with other.cursor() as cursor:
            cursor.execute("KILL %s", [first])
    finally:
        other.close()

    connection.close_if_unusable_or_obsolete()  # what the end of a request (or a consumer's check) does
    ((second,),) = sql_rows(using="orders", sql="SELECT CONNECTION_ID()")

    assert second != first
