from decimal import Decimal

import factory

from apps.inventory.models import Inventory, InventoryAction, InventoryLog, InventoryOutcome


class InventoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inventory

    product_id = factory.Sequence(lambda n: 2000 + n)
    name = factory.Sequence(lambda n: f"Product {2000 + n}")
    unit_price = Decimal("10.00")
    available_qty = 100
    reserved_qty = 0


class InventoryLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InventoryLog

    order_id = factory.Sequence(lambda n: 1 + n)
    product_id = factory.Sequence(lambda n: 2000 + n)
    action = InventoryAction.RESERVE
    outcome = InventoryOutcome.APPLIED
    quantity = 1
