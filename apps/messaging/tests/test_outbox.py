"""Writing to the outbox: inside the state change's transaction, one row per message, batched for consumers."""

import uuid

import pytest
from django.db import connections, transaction
from prometheus_client import REGISTRY

from apps.common.tests.tracing import in_span
from apps.messaging.contracts import ReserveInventory, StockLine
from apps.messaging.models import OutboxMessage
from apps.messaging.outbox import OutboxOutsideTransaction, outbox_batched, outbox_enqueue

pytestmark = pytest.mark.django_db(databases=["orders"], transaction=True)


def reserve(order_id: int) -> ReserveInventory:
    return ReserveInventory(saga_id=uuid.uuid4(), order_id=order_id, lines=(StockLine(product_id=5, quantity=1),))


def outbox():
    return OutboxMessage.objects.using("orders")


def test_a_row_outside_a_transaction_is_refused():
    with pytest.raises(OutboxOutsideTransaction):
        outbox_enqueue(using="orders", message=reserve(1))
    assert not outbox().exists()


def test_a_batch_inserts_its_rows_together_at_the_end_of_the_block():
    statements = "django_db_execute_many_total"
    before = REGISTRY.get_sample_value(statements, {"alias": "orders", "vendor": _vendor()}) or 0
    with transaction.atomic(using="orders"):
        with outbox_batched(using="orders"), in_span() as writing:
            ids = [outbox_enqueue(using="orders", message=reserve(order_id)) for order_id in (1, 2, 3)]
            assert not outbox().exists(), "nothing is written until the block ends"
        assert outbox().count() == 3

    rows = list(outbox().order_by("id"))
    assert [row.message_id for row in rows] == ids
    assert [row.payload["order_id"] for row in rows] == [1, 2, 3]
    assert {row.traceparent for row in rows} == {writing}
    assert REGISTRY.get_sample_value(statements, {"alias": "orders", "vendor": _vendor()}) - before == 3


def test_a_batch_that_fails_writes_nothing():
    def failing_handler():
        with transaction.atomic(using="orders"), outbox_batched(using="orders"):
            outbox_enqueue(using="orders", message=reserve(1))
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        failing_handler()
    assert not outbox().exists()


def test_a_batch_on_another_database_leaves_this_one_unbatched():
    with transaction.atomic(using="orders"), outbox_batched(using="inventory"):
        outbox_enqueue(using="orders", message=reserve(1))
        assert outbox().count() == 1


def _vendor() -> str:
    return connections["orders"].vendor
