"""How each command of the orders' sagas is built from a saga and its order: one builder per command.

The definitions name these; nothing else builds a command, so no command can be
mistaken for another.
"""

from apps.messaging.contracts import (
    CommitInventory,
    ProcessPayment,
    RefundPayment,
    ReleaseInventory,
    ReserveInventory,
    RestockInventory,
)


def _ids(saga, order) -> dict:
    return {"saga_id": saga.saga_id, "order_id": order.pk}


def _stock(order) -> dict:
    return {"product_id": order.product_id, "quantity": order.quantity}


def reserve_inventory(saga, order) -> ReserveInventory:
    return ReserveInventory(**_ids(saga, order), **_stock(order))


def release_inventory(saga, order) -> ReleaseInventory:
    return ReleaseInventory(**_ids(saga, order), **_stock(order))


def commit_inventory(saga, order) -> CommitInventory:
    return CommitInventory(**_ids(saga, order), **_stock(order))


def restock_inventory(saga, order) -> RestockInventory:
    return RestockInventory(**_ids(saga, order), **_stock(order))


def process_payment(saga, order) -> ProcessPayment:
    return ProcessPayment(**_ids(saga, order), amount=order.total_amount)


def refund_payment(saga, order) -> RefundPayment:
    return RefundPayment(**_ids(saga, order), amount=order.total_amount)
