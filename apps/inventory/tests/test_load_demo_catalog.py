"""manage.py load_demo_catalog: the seed's start-up stock, once, whatever has happened since."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from apps.inventory.models import Inventory
from apps.inventory.tests.factories import InventoryFactory

pytestmark = pytest.mark.django_db(databases=["inventory"])


def load() -> str:
    out = StringIO()
    call_command("load_demo_catalog", stdout=out)
    return out.getvalue()


def catalog() -> list[tuple]:
    return list(
        Inventory.objects.order_by("product_id").values_list(
            "product_id", "name", "unit_price", "currency", "available_qty", "reserved_qty", "sold_qty", "version"
        )
    )


def test_loads_the_demo_products_with_their_stock_names_and_prices():
    output = load()

    assert catalog() == [
        (1001, "Demo widget", Decimal("99.99"), "USD", 100, 0, 0, 1),
        (1002, "Demo gadget", Decimal("24.50"), "USD", 50, 0, 0, 1),
    ]
    assert "created: 1001, 1002" in output


def test_running_it_again_changes_nothing():
    load()
    before = catalog()

    output = load()

    assert catalog() == before
    assert "already in place: 1001, 1002" in output


def test_stock_that_moved_is_not_reset():
    load()
    Inventory.objects.filter(product_id=1001).update(available_qty=10, reserved_qty=2, sold_qty=88)

    load()

    assert catalog()[0][4:7] == (10, 2, 88)


def test_stock_created_by_the_seeds_scripts_gets_a_name_and_price_only():
    InventoryFactory(product_id=1001, name="", unit_price=None, available_qty=7)

    output = load()

    assert catalog()[0][:5] == (1001, "Demo widget", Decimal("99.99"), "USD", 7)
    assert "name or price filled in: 1001" in output
