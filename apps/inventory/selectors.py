from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from apps.inventory.models import Inventory

CATALOG_FIELDS = ("product_id", "name", "unit_price", "currency")


def inventory_get(*, product_id: int) -> Inventory | None:
    return Inventory.objects.filter(product_id=product_id).first()


def catalog_list() -> QuerySet[Inventory]:
    """Every product as the public catalog shows it, by product id: its entry and whether any is in stock."""
    return _catalog().order_by("product_id")


def catalog_get(*, product_id: int) -> Inventory | None:
    return _catalog().filter(product_id=product_id).first()


def _catalog() -> QuerySet[Inventory]:
    # Whether there is stock, not how much: the counters are for staff.
    return Inventory.objects.only(*CATALOG_FIELDS).annotate(
        available=ExpressionWrapper(Q(available_qty__gt=0), output_field=BooleanField())
    )
