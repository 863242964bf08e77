"""Committing a completed order's reservation (reserved units become sold, once), restocking a cancelled one
(sold, or reserved if never sold, back to available, once); stock is conserved."""

import uuid

import pytest
from django.db import transaction

from apps.inventory.handlers import on_commit
from apps.inventory.models import Inventory, InventoryAction, InventoryLog, InventoryOutcome
from apps.inventory.services import (
    StockDecision,
    StockLine,
    inventory_commit,
    inventory_release,
    inventory_reserve,
    inventory_restock,
)
from apps.inventory.tests.stock import PRICE, decided, wire
from apps.messaging.consumer import HandlerContext
from apps.messaging.contracts import CommitInventory, InventoryCommitted
from apps.messaging.models import OutboxMessage

INVENTORY_DB = ["inventory"]
SAGA_ID = uuid.UUID("9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f")


def in_consumer(call):
    with transaction.atomic(using="inventory"):
        return call()


def reserve(order_id: int, quantity: int = 3) -> StockDecision:
    return in_consumer(lambda: inventory_reserve(order_id=order_id, lines=[StockLine(1, quantity)]))


def release(order_id: int) -> StockDecision:
    return in_consumer(lambda: inventory_release(order_id=order_id, lines=[StockLine(1, 1)]))


def commit(order_id: int) -> StockDecision:
    return in_consumer(lambda: inventory_commit(order_id=order_id, lines=[StockLine(1, 1)]))


def restock(order_id: int) -> StockDecision:
    return in_consumer(lambda: inventory_restock(order_id=order_id, lines=[StockLine(1, 1)]))


def stock() -> tuple[int, int, int]:
    row = Inventory.objects.get(product_id=1)
    return row.available_qty, row.reserved_qty, row.sold_qty


@pytest.fixture
def product():
    return Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_commit_moves_the_reservation_into_sold(product):
    reserve(100)

    assert commit(100) == decided(True, 1, 3, "")

    assert stock() == (7, 0, 3)
    assert sum(stock()) == 10
    log = InventoryLog.objects.get(order_id=100, action=InventoryAction.COMMIT)
    assert (log.outcome, log.quantity) == (InventoryOutcome.APPLIED, 3)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_a_repeated_commit_moves_stock_once(product):
    reserve(100)

    first, second = commit(100), commit(100)

    assert first == second
    assert stock() == (7, 0, 3)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_commit_of_an_order_that_reserved_nothing_is_refused(product):
    assert commit(100) == decided(False, 1, 0, "nothing was reserved")
    assert stock() == (10, 0, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_commit_after_a_release_is_refused_and_a_release_after_a_commit_too(product):
    reserve(100)
    reserve(200)
    release(100)
    commit(200)

    assert commit(100) == decided(False, 1, 3, "order already released")
    # Releasing the sold order must not take units another order holds.
    reserve(300)
    assert release(200) == decided(False, 1, 3, "order already sold")
    assert stock() == (4, 3, 3)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_conservation_holds_through_every_kind_of_move(product):
    for order_id in range(1, 6):
        reserve(order_id, quantity=2)
    commit(1)
    commit(2)
    release(3)
    reserve(6, quantity=2)
    reserve(7, quantity=1)

    available, reserved, sold = stock()
    assert (available, reserved, sold) == (0, 6, 4)
    assert available + reserved + sold == 10


def handle_commit(order_id: int) -> list[OutboxMessage]:
    """Run the consumer's handler for a commit of ``order_id``; return the replies it wrote."""
    command = CommitInventory(saga_id=SAGA_ID, order_id=order_id, lines=wire(1, 3))
    context = HandlerContext(using="inventory", message_id=uuid.uuid4(), routing_key=command.routing_key)
    in_consumer(lambda: on_commit(command, context))
    return list(OutboxMessage.objects.using("inventory").filter(routing_key="inventory.committed"))


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_on_commit_sends_no_answer_when_the_commit_is_applied(product):
    reserve(100)

    assert handle_commit(100) == []
    assert stock() == (7, 0, 3)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_on_commit_answers_a_refusal(product):
    reserve(100)
    release(100)

    [reply] = handle_commit(100)

    assert InventoryCommitted.from_body(reply.payload) == InventoryCommitted(
        saga_id=SAGA_ID, order_id=100, lines=wire(1, 3), success=False, reason="order already released"
    )
    assert stock() == (10, 0, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_restock_puts_sold_units_back_on_sale_once(product):
    reserve(100)
    commit(100)
    assert stock() == (7, 0, 3)

    first, second = restock(100), restock(100)

    assert first == second == decided(True, 1, 3, "")
    assert stock() == (10, 0, 0)
    log = InventoryLog.objects.get(order_id=100, action=InventoryAction.RESTOCK)
    assert (log.outcome, log.quantity) == (InventoryOutcome.APPLIED, 3)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_a_restock_before_the_commit_gives_the_reservation_back_and_the_late_commit_is_refused(product):
    reserve(100)

    assert restock(100) == decided(True, 1, 3, "")
    assert stock() == (10, 0, 0)

    late = commit(100)
    assert (late.success, late.reason) == (False, "order already cancelled and restocked")
    assert stock() == (10, 0, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_restocking_an_order_that_holds_nothing_succeeds_with_nothing(product):
    reserve(100)
    in_consumer(lambda: inventory_release(order_id=100, lines=[StockLine(1, 1)]))

    assert restock(100) == decided(True, 1, 0, "order already released")
    assert restock(200) == decided(True, 1, 0, "nothing was reserved")
    assert stock() == (10, 0, 0)
