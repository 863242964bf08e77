"""Reserve and release under real concurrency on MariaDB: row locks, not luck, keep stock right."""

import threading

import pytest
from django.db import connections, transaction

from apps.inventory.models import Inventory, InventoryAction, InventoryLog, InventoryOutcome
from apps.inventory.services import StockLine, inventory_release, inventory_reserve
from apps.inventory.tests.stock import PRICE, decided

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(databases=["inventory"], transaction=True)]


def run_together(*calls) -> list:
    """Run each call in its own thread and transaction, all released at once; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def work(index, call):
        try:
            barrier.wait()
            with transaction.atomic(using="inventory"):
                results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connections["inventory"].close()

    threads = [threading.Thread(target=work, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [result for result in results if isinstance(result, Exception)]
    assert not errors, errors
    return results


def reserve_call(*, order_id: int, product_id: int, quantity: int):
    return lambda: inventory_reserve(order_id=order_id, lines=[StockLine(product_id, quantity)])


def release_call(*, order_id: int, product_id: int):
    return lambda: inventory_release(order_id=order_id, lines=[StockLine(product_id, 1)])


def stock(product_id: int) -> tuple[int, int]:
    row = Inventory.objects.get(product_id=product_id)
    return row.available_qty, row.reserved_qty


def test_forty_buyers_of_ten_units_get_exactly_ten():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)

    decisions = run_together(*(reserve_call(order_id=order_id, product_id=1, quantity=1) for order_id in range(1, 41)))

    assert sum(decision.success for decision in decisions) == 10
    rejected = [decision for decision in decisions if not decision.success]
    assert len(rejected) == 30
    assert {decision.reason for decision in rejected} == {"insufficient stock"}
    assert stock(1) == (0, 10)
    assert InventoryLog.objects.filter(action=InventoryAction.RESERVE, outcome=InventoryOutcome.APPLIED).count() == 10
    assert InventoryLog.objects.filter(action=InventoryAction.RESERVE, outcome=InventoryOutcome.REJECTED).count() == 30


def test_reserve_racing_release_of_the_same_order_never_leaves_stock_held():
    Inventory.objects.create(product_id=1, available_qty=100, unit_price=PRICE)

    for order_id in range(1, 21):
        reserved, released = run_together(
            reserve_call(order_id=order_id, product_id=1, quantity=3), release_call(order_id=order_id, product_id=1)
        )

        assert stock(1) == (100, 0), f"round {order_id}: {reserved}, {released}"
        assert (reserved, released) in [
            (decided(True, 1, 3, priced=True), decided(True, 1, 3)),
            (
                decided(False, 1, 3, "order already released"),
                decided(True, 1, 0, "nothing was reserved"),
            ),
        ], f"round {order_id}"


def test_twin_reserves_of_one_order_take_stock_once():
    Inventory.objects.create(product_id=1, available_qty=100, unit_price=PRICE)

    for order_id in range(1, 11):
        first, second = run_together(
            reserve_call(order_id=order_id, product_id=1, quantity=2),
            reserve_call(order_id=order_id, product_id=1, quantity=2),
        )

        assert first == second == decided(True, 1, 2, priced=True), f"round {order_id}"
        assert stock(1) == (100 - 2 * order_id, 2 * order_id)
        assert InventoryLog.objects.filter(order_id=order_id).count() == 1


def test_twin_releases_of_one_order_give_back_once():
    Inventory.objects.create(product_id=1, available_qty=100, unit_price=PRICE)

    for order_id in range(1, 11):
        with transaction.atomic(using="inventory"):
            inventory_reserve(order_id=order_id, lines=[StockLine(1, 2)])
        first, second = run_together(
            release_call(order_id=order_id, product_id=1), release_call(order_id=order_id, product_id=1)
        )

        assert first == second == decided(True, 1, 2), f"round {order_id}"
        assert stock(1) == (100, 0)
