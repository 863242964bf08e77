from decimal import Decimal

from django.core.management.base import BaseCommand

from apps.inventory.services import CatalogSeed, inventory_seed_catalog

# The seed's start-up stock, so its client scripts and the README's examples find their products.
DEMO_CATALOG = [
    CatalogSeed(product_id=1001, available_qty=100, name="Demo widget", unit_price=Decimal("99.99")),
    CatalogSeed(product_id=1002, available_qty=50, name="Demo gadget", unit_price=Decimal("24.50")),
]


class Command(BaseCommand):
    help = (
        "Make sure the demo products exist (1001: 100 units, 1002: 50) with a name and a price. Idempotent: "
        "stock that already exists is never reset; only a missing name or price is filled in."
    )

    def handle(self, *args, **options):
        result = inventory_seed_catalog(products=DEMO_CATALOG)
        for label, product_ids in (
            ("created", result.created),
            ("name or price filled in", result.completed),
            ("already in place", result.unchanged),
        ):
            if product_ids:
                self.stdout.write(f"Demo catalog, {label}: {', '.join(map(str, product_ids))}")
