"""Restocking a cancelled order: its sold units (or, not yet sold, its reserved ones) go back on sale, once."""

import pytest
from django.db import transaction

from apps.inventory.models import Inventory, InventoryAction, InventoryLog, InventoryOutcome
from apps.inventory.services import (
    StockDecision,
    inventory_commit,
    inventory_release,
    inventory_reserve,
    inventory_restock,
)

INVENTORY_DB = ["inventory"]


def in_consumer(call):
    with transaction.atomic(using="inventory"):
        return call()


def reserve(order_id: int, quantity: int = 3) -> StockDecision:
    return in_consumer(lambda: inventory_reserve(order_id=order_id, product_id=1, quantity=quantity))


def commit(order_id: int) -> StockDecision:
    return in_consumer(lambda: inventory_commit(order_id=order_id, product_id=1))


def restock(order_id: int) -> StockDecision:
    return in_consumer(lambda: inventory_restock(order_id=order_id, product_id=1))


def stock() -> tuple[int, int, int]:
    row = Inventory.objects.get(product_id=1)
    return row.available_qty, row.reserved_qty, row.sold_qty


@pytest.fixture
def product():
    return Inventory.objects.create(product_id=1, available_qty=10)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_restock_puts_sold_units_back_on_sale_once(product):
    reserve(100)
    commit(100)
    assert stock() == (7, 0, 3)

    first, second = restock(100), restock(100)

    assert first == second == StockDecision(True, 1, 3, "")
    assert stock() == (10, 0, 0)
    log = InventoryLog.objects.get(order_id=100, action=InventoryAction.RESTOCK)
    assert (log.outcome, log.quantity) == (InventoryOutcome.APPLIED, 3)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_a_restock_before_the_commit_gives_the_reservation_back_and_the_late_commit_is_refused(product):
    reserve(100)

    assert restock(100) == StockDecision(True, 1, 3, "")
    assert stock() == (10, 0, 0)

    late = commit(100)
    assert (late.success, late.reason) == (False, "order already cancelled and restocked")
    assert stock() == (10, 0, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_restocking_an_order_that_holds_nothing_succeeds_with_nothing(product):
    reserve(100)
    in_consumer(lambda: inventory_release(order_id=100, product_id=1))

    assert restock(100) == StockDecision(True, 1, 0, "order already released")
    assert restock(200) == StockDecision(True, 1, 0, "nothing was reserved")
    assert stock() == (10, 0, 0)
