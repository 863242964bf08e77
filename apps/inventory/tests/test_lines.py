"""Orders of several lines: all or nothing, in product order, at the catalog's prices, given back line by line."""

from decimal import Decimal

import pytest
from django.db import transaction

from apps.inventory.models import Inventory, InventoryAction, InventoryLog, InventoryOutcome
from apps.inventory.services import (
    StockDecision,
    StockLine,
    inventory_commit,
    inventory_release,
    inventory_reserve,
    inventory_restock,
)

pytestmark = pytest.mark.django_db(databases=["inventory"])

LINES = [StockLine(3, 1), StockLine(1, 2), StockLine(2, 5)]


def in_consumer(call, **arguments) -> StockDecision:
    with transaction.atomic(using="inventory"):
        return call(**arguments)


def stock() -> dict[int, tuple[int, int, int]]:
    return {row.product_id: (row.available_qty, row.reserved_qty, row.sold_qty) for row in Inventory.objects.all()}


@pytest.fixture
def catalog():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=Decimal("2.50"))
    Inventory.objects.create(product_id=2, available_qty=10, unit_price=Decimal("0.99"))
    Inventory.objects.create(product_id=3, available_qty=10, unit_price=Decimal("100.00"))


def test_every_line_is_reserved_at_its_catalog_price_in_product_order(catalog):
    decision = in_consumer(inventory_reserve, order_id=7, lines=LINES)

    assert decision == StockDecision(
        True,
        (StockLine(1, 2, Decimal("2.50")), StockLine(2, 5, Decimal("0.99")), StockLine(3, 1, Decimal("100.00"))),
        currency="USD",
    )
    assert stock() == {1: (8, 2, 0), 2: (5, 5, 0), 3: (9, 1, 0)}
    logged = InventoryLog.objects.filter(order_id=7).order_by("product_id")
    assert [(log.product_id, log.quantity, log.unit_price, log.currency) for log in logged] == [
        (1, 2, Decimal("2.50"), "USD"),
        (2, 5, Decimal("0.99"), "USD"),
        (3, 1, Decimal("100.00"), "USD"),
    ]


def test_one_short_line_refuses_the_order_and_moves_no_unit_of_any_line(catalog):
    Inventory.objects.filter(product_id=3).update(available_qty=0)

    decision = in_consumer(inventory_reserve, order_id=7, lines=LINES)

    assert (decision.success, decision.reason) == (False, "insufficient stock: product 3")
    assert stock() == {1: (10, 0, 0), 2: (10, 0, 0), 3: (0, 0, 0)}
    assert set(InventoryLog.objects.filter(order_id=7).values_list("outcome", flat=True)) == {InventoryOutcome.REJECTED}


def test_an_unknown_product_refuses_the_order_by_name(catalog):
    decision = in_consumer(inventory_reserve, order_id=7, lines=[StockLine(1, 1), StockLine(99, 1)])

    assert (decision.success, decision.reason) == (False, "product not found: product 99")
    assert stock()[1] == (10, 0, 0)


def test_a_product_without_a_price_cannot_be_ordered(catalog):
    Inventory.objects.create(product_id=4, available_qty=10)

    decision = in_consumer(inventory_reserve, order_id=7, lines=[StockLine(1, 1), StockLine(4, 1)])

    assert (decision.success, decision.reason) == (False, "product 4 has no price")
    assert stock()[1] == (10, 0, 0)
    assert stock()[4] == (10, 0, 0)


def test_staff_who_set_the_total_may_order_an_unpriced_product(catalog):
    Inventory.objects.create(product_id=4, available_qty=10)

    decision = in_consumer(inventory_reserve, order_id=7, lines=[StockLine(1, 1), StockLine(4, 1)], price_override=True)

    assert decision.success
    assert [line.unit_price for line in decision.lines] == [Decimal("2.50"), None]
    assert stock()[4] == (9, 1, 0)


def test_a_total_that_is_not_the_catalog_total_refuses_before_any_charge(catalog):
    # 2 x 2.50 + 5 x 0.99 + 1 x 100.00 = 109.95
    refused = in_consumer(inventory_reserve, order_id=7, lines=LINES, expected_total=Decimal("0.01"))
    accepted = in_consumer(inventory_reserve, order_id=8, lines=LINES, expected_total=Decimal("109.95"))

    assert (refused.success, refused.reason) == (False, "price changed: the catalog total is 109.95 USD, not 0.01")
    assert accepted.success
    assert stock() == {1: (8, 2, 0), 2: (5, 5, 0), 3: (9, 1, 0)}


def test_products_priced_in_different_currencies_are_refused(catalog):
    Inventory.objects.filter(product_id=2).update(currency="EUR")

    decision = in_consumer(inventory_reserve, order_id=7, lines=LINES)

    assert (decision.success, decision.reason) == (False, "the products are priced in different currencies")
    assert stock()[1] == (10, 0, 0)


def test_release_commit_and_restock_move_every_line(catalog):
    in_consumer(inventory_reserve, order_id=7, lines=LINES)
    in_consumer(inventory_reserve, order_id=8, lines=LINES)

    released = in_consumer(inventory_release, order_id=7, lines=LINES)
    committed = in_consumer(inventory_commit, order_id=8, lines=LINES)
    assert stock() == {1: (8, 0, 2), 2: (5, 0, 5), 3: (9, 0, 1)}
    restocked = in_consumer(inventory_restock, order_id=8, lines=LINES)

    for decision in (released, committed, restocked):
        assert decision.success
        assert [(line.product_id, line.quantity) for line in decision.lines] == [(1, 2), (2, 5), (3, 1)]
    assert stock() == {1: (10, 0, 0), 2: (10, 0, 0), 3: (10, 0, 0)}
    actions = InventoryLog.objects.filter(order_id=8).values_list("action", flat=True)
    assert sorted(actions) == sorted([InventoryAction.RESERVE, InventoryAction.COMMIT, InventoryAction.RESTOCK] * 3)


def test_a_repeated_reservation_of_several_lines_gets_the_first_decision(catalog):
    first = in_consumer(inventory_reserve, order_id=7, lines=LINES)
    Inventory.objects.filter(product_id=1).update(unit_price=Decimal("9.99"))

    again = in_consumer(inventory_reserve, order_id=7, lines=LINES)

    assert again == first
    assert stock()[1] == (8, 2, 0)
