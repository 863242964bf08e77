"""The inventory tables enforce their own invariants on MariaDB, whatever the code above them does."""

import pytest
from django.db import IntegrityError, connections, transaction
from django.db.models import F

from apps.inventory.models import Inventory, InventoryAction, InventoryLog
from apps.inventory.tests.factories import InventoryFactory, InventoryLogFactory

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(databases=["inventory"])]

STOCK_COLUMNS = ["available_qty", "reserved_qty"]


def stock_of(inventory: Inventory) -> tuple[int, int, int]:
    inventory.refresh_from_db()
    return inventory.available_qty, inventory.reserved_qty, inventory.version


@pytest.mark.parametrize("column", STOCK_COLUMNS)
def test_raw_update_cannot_make_stock_negative(column):
    inventory = InventoryFactory(available_qty=5, reserved_qty=2)
    connection = connections["inventory"]

    with pytest.raises(IntegrityError), transaction.atomic(using="inventory"), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name('inventories')} SET {connection.ops.quote_name(column)} = -1 "
            "WHERE id = %s",
            [inventory.pk],
        )

    assert stock_of(inventory) == (5, 2, 1)


@pytest.mark.parametrize("column", STOCK_COLUMNS)
def test_save_cannot_make_stock_negative(column):
    inventory = InventoryFactory(available_qty=5, reserved_qty=2)
    setattr(inventory, column, -1)

    with pytest.raises(IntegrityError), transaction.atomic(using="inventory"):
        inventory.save()

    assert stock_of(inventory) == (5, 2, 1)


@pytest.mark.parametrize("column", STOCK_COLUMNS)
def test_relative_update_cannot_take_more_than_there_is(column):
    inventory = InventoryFactory(available_qty=5, reserved_qty=2)

    with pytest.raises(IntegrityError), transaction.atomic(using="inventory"):
        Inventory.objects.filter(pk=inventory.pk).update(**{column: F(column) - 6})

    assert stock_of(inventory) == (5, 2, 1)


def test_stock_may_reach_zero():
    inventory = InventoryFactory(available_qty=5, reserved_qty=2)

    Inventory.objects.filter(pk=inventory.pk).update(available_qty=F("available_qty") - 5, reserved_qty=0)

    assert stock_of(inventory)[:2] == (0, 0)


def test_one_decision_per_order_action_and_line():
    InventoryLogFactory(order_id=1, product_id=42, action=InventoryAction.RESERVE, quantity=3)
    InventoryLogFactory(order_id=1, product_id=43, action=InventoryAction.RESERVE, quantity=1)

    with pytest.raises(IntegrityError), transaction.atomic(using="inventory"):
        InventoryLogFactory(order_id=1, product_id=42, action=InventoryAction.RESERVE, quantity=1)

    assert list(InventoryLog.objects.order_by("product_id").values_list("order_id", "product_id", "quantity")) == [
        (1, 42, 3),
        (1, 43, 1),
    ]


def test_an_order_may_have_both_a_reserve_and_a_release():
    InventoryLogFactory(order_id=1, action=InventoryAction.RESERVE)
    InventoryLogFactory(order_id=1, action=InventoryAction.RELEASE)
    InventoryLogFactory(order_id=2, action=InventoryAction.RESERVE)

    assert InventoryLog.objects.count() == 3
