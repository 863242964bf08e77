"""The traceparent migration, with a process of the previous version still writing outbox rows during the deploy."""

import uuid

import pytest
from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.common.tests.tracing import in_span
from apps.messaging.contracts import ReserveInventory, StockLine
from apps.messaging.models import OutboxMessage
from apps.messaging.outbox import outbox_enqueue

BEFORE = ("messaging", "0004_dead_letter_queue_permissions")
LATEST = ("messaging", "0005_outbox_traceparent")


def migrate(target) -> None:
    executor = MigrationExecutor(connections["orders"])
    executor.loader.build_graph()
    executor.migrate([target])


def insert_as_the_previous_version(trace_id: str) -> uuid.UUID:
    """An outbox row with only the columns the previous version knew."""
    connection = connections["orders"]
    message_id = uuid.uuid4()

    def prep(field, value):
        return OutboxMessage._meta.get_field(field).get_db_prep_value(value, connection)

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO messaging_outbox (message_id, exchange, routing_key, message_type, payload, trace_id,"
            " created_at, publish_attempts, last_error) VALUES (%s, 'saga.commands', 'inventory.reserve',"
            " 'ReserveInventory', '{}', %s, %s, 0, '')",
            [prep("message_id", message_id), trace_id, prep("created_at", timezone.now())],
        )
    return message_id


@pytest.mark.django_db(databases=["orders"], transaction=True)
def test_rows_of_both_versions_are_written_side_by_side():
    migrate(BEFORE)
    try:
        before = insert_as_the_previous_version("a" * 32)
        migrate(LATEST)
        during = insert_as_the_previous_version("b" * 32)
        message = ReserveInventory(saga_id=uuid.uuid4(), order_id=1, lines=(StockLine(product_id=1, quantity=1),))
        with transaction.atomic(using="orders"), in_span() as writing:
            after = outbox_enqueue(using="orders", message=message)
    finally:
        migrate(LATEST)

    rows = {row.message_id: row for row in OutboxMessage.objects.using("orders")}
    assert (rows[before].traceparent, rows[during].traceparent) == ("", "")
    assert (rows[after].traceparent, rows[after].trace_id) == (writing, "")
