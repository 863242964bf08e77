from apps.inventory.models import Inventory


def inventory_get(*, product_id: int) -> Inventory | None:
    return Inventory.objects.filter(product_id=product_id).first()
