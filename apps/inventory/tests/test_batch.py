"""A consumer batch takes no savepoint per decision: a repeated decision fails the batch, handled again one by one."""

import uuid

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.inventory.models import Inventory, InventoryAction, InventoryLog
from apps.inventory.tests.stock import PRICE
from apps.messaging.consumer import ConsumerSpec, Delivery, Outcome, handle_batch
from apps.messaging.models import OutboxMessage
from apps.messaging.tests.signed import signed_delivery

# transaction=True: a failed batch drops its connection (as in production), which a test transaction would not survive.
pytestmark = pytest.mark.django_db(databases=["inventory"], transaction=True)


def reserve(order_id: int, quantity: int) -> Delivery:
    body = {"saga_id": str(uuid.uuid4()), "order_id": order_id, "product_id": 7, "quantity": quantity}
    return signed_delivery(routing_key="inventory.reserve", body=body)


def test_a_batch_of_fresh_decisions_takes_no_savepoint():
    Inventory.objects.create(product_id=7, available_qty=10, unit_price=PRICE)

    with CaptureQueriesContext(connections["inventory"]) as queries:
        results = handle_batch(ConsumerSpec.from_settings("inventory"), [reserve(1, 2), reserve(2, 3)])

    assert [result.outcome for result in results] == [Outcome.OK, Outcome.OK]
    assert not [query for query in queries.captured_queries if "SAVEPOINT" in query["sql"].upper()]
    row = Inventory.objects.get(product_id=7)
    assert (row.available_qty, row.reserved_qty) == (5, 5)


def test_a_repeated_reservation_in_a_batch_moves_stock_once_and_gets_the_first_decision():
    Inventory.objects.create(product_id=7, available_qty=10, unit_price=PRICE)
    # Two commands for one order under different message ids (a recovery re-send), and another order.
    batch = [reserve(1, 2), reserve(2, 3), reserve(1, 2)]

    results = handle_batch(ConsumerSpec.from_settings("inventory"), batch)

    assert [result.outcome for result in results] == [Outcome.OK] * 3
    row = Inventory.objects.get(product_id=7)
    assert (row.available_qty, row.reserved_qty) == (5, 5)
    assert InventoryLog.objects.filter(order_id=1, action=InventoryAction.RESERVE).count() == 1
    replies = [row.payload for row in OutboxMessage.objects.using("inventory").order_by("id")]
    assert [(reply["order_id"], reply["quantity"], reply["success"]) for reply in replies] == [
        (1, 2, True),
        (2, 3, True),
        (1, 2, True),
    ]
