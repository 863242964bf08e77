"""The catalog entry inventory keeps per product: writes (create, set, seed) and the public reads."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.inventory.models import Inventory
from apps.inventory.selectors import catalog_get, catalog_list
from apps.inventory.services import (
    CatalogSeed,
    VersionConflict,
    inventory_create,
    inventory_seed_catalog,
    inventory_set_available,
)
from apps.inventory.tests.factories import InventoryFactory

pytestmark = pytest.mark.django_db(databases=["inventory"])

WIDGET = CatalogSeed(product_id=1001, available_qty=100, name="Demo widget", unit_price=Decimal("99.99"))
GADGET = CatalogSeed(product_id=1002, available_qty=50, name="Demo gadget", unit_price=Decimal("24.50"))


def catalog_entry(product_id: int) -> tuple:
    stored = Inventory.objects.get(product_id=product_id)
    return stored.name, stored.unit_price, stored.currency, stored.available_qty, stored.version


def test_a_product_created_with_stock_only_has_no_price_yet():
    inventory_create(product_id=42, available_qty=5)

    assert catalog_entry(42) == ("", None, "USD", 5, 1)


def test_a_product_created_with_its_catalog_entry():
    inventory_create(product_id=42, available_qty=5, name="Lamp", unit_price=Decimal("12.30"), currency="EUR")

    assert catalog_entry(42) == ("Lamp", Decimal("12.30"), "EUR", 5, 1)


def test_setting_stock_leaves_the_catalog_entry_alone():
    InventoryFactory(product_id=42, name="Lamp", unit_price=Decimal("12.30"), currency="EUR", available_qty=5)

    inventory_set_available(product_id=42, available_qty=9)

    assert catalog_entry(42) == ("Lamp", Decimal("12.30"), "EUR", 9, 2)


def test_setting_stock_and_price_is_one_versioned_change():
    InventoryFactory(product_id=42, name="Lamp", unit_price=Decimal("12.30"), available_qty=5, version=3)

    inventory_set_available(product_id=42, available_qty=6, expected_version=3, unit_price=Decimal("11.00"))

    assert catalog_entry(42) == ("Lamp", Decimal("11.00"), "USD", 6, 4)


def test_a_stale_version_changes_neither_stock_nor_price():
    InventoryFactory(product_id=42, unit_price=Decimal("12.30"), available_qty=5, version=4)

    with pytest.raises(VersionConflict):
        inventory_set_available(product_id=42, available_qty=6, expected_version=3, unit_price=Decimal("1.00"))

    assert catalog_entry(42)[1:] == (Decimal("12.30"), "USD", 5, 4)


def test_a_price_can_be_withdrawn():
    InventoryFactory(product_id=42, unit_price=Decimal("12.30"), available_qty=5)

    inventory_set_available(product_id=42, available_qty=5, unit_price=None)

    assert catalog_entry(42)[1] is None


@pytest.mark.parametrize("price", [Decimal("0.00"), Decimal("-1.00")])
def test_the_database_refuses_a_price_that_is_not_positive(price):
    InventoryFactory(product_id=42, unit_price=Decimal("12.30"))

    with pytest.raises(IntegrityError), transaction.atomic(using="inventory"):
        Inventory.objects.filter(product_id=42).update(unit_price=price)

    assert catalog_entry(42)[1] == Decimal("12.30")


def test_seeding_an_empty_catalog_creates_every_product():
    result = inventory_seed_catalog(products=[WIDGET, GADGET])

    assert (result.created, result.completed, result.unchanged) == ([1001, 1002], [], [])
    assert catalog_entry(1001) == ("Demo widget", Decimal("99.99"), "USD", 100, 1)
    assert catalog_entry(1002) == ("Demo gadget", Decimal("24.50"), "USD", 50, 1)


def test_seeding_twice_changes_nothing():
    inventory_seed_catalog(products=[WIDGET, GADGET])
    before = [catalog_entry(1001), catalog_entry(1002)]

    result = inventory_seed_catalog(products=[WIDGET, GADGET])

    assert (result.created, result.completed, result.unchanged) == ([], [], [1001, 1002])
    assert [catalog_entry(1001), catalog_entry(1002)] == before


def test_seeding_never_resets_stock_that_moved():
    InventoryFactory(product_id=1001, name="", unit_price=None, available_qty=3, reserved_qty=7, sold_qty=90)

    result = inventory_seed_catalog(products=[WIDGET])

    stored = Inventory.objects.get(product_id=1001)
    assert result.completed == [1001]
    assert (stored.available_qty, stored.reserved_qty, stored.sold_qty) == (3, 7, 90)
    assert (stored.name, stored.unit_price) == ("Demo widget", Decimal("99.99"))


def test_seeding_keeps_a_name_and_price_someone_set():
    InventoryFactory(product_id=1001, name="Blue widget", unit_price=Decimal("120.00"), currency="EUR", version=5)

    result = inventory_seed_catalog(products=[WIDGET])

    assert result.unchanged == [1001]
    assert catalog_entry(1001) == ("Blue widget", Decimal("120.00"), "EUR", 100, 5)


def test_seeding_fills_in_only_what_is_missing():
    InventoryFactory(product_id=1001, name="Blue widget", unit_price=None, version=2)

    inventory_seed_catalog(products=[WIDGET])

    assert catalog_entry(1001) == ("Blue widget", Decimal("99.99"), "USD", 100, 3)


def test_the_catalog_says_whether_a_product_is_in_stock_in_product_order():
    InventoryFactory(product_id=3, available_qty=0, reserved_qty=4)
    InventoryFactory(product_id=1, available_qty=1)
    InventoryFactory(product_id=2, available_qty=0)

    assert [(product.product_id, product.available) for product in catalog_list()] == [
        (1, True),
        (2, False),
        (3, False),
    ]


def test_the_catalog_finds_one_product_or_none():
    InventoryFactory(product_id=42, name="Lamp", available_qty=2)

    found = catalog_get(product_id=42)

    assert (found.product_id, found.name, found.available) == (42, "Lamp", True)
    assert catalog_get(product_id=43) is None
