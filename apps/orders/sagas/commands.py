"""How each command of the orders' sagas is built from a saga and its order: one builder per command.

The definitions name these; nothing else builds a command, so no command can be
mistaken for another. A stock command carries the order's lines, which the
runtime loads onto ``order.stock_lines`` before building one; a refund names
the placement saga that charged, which it loads onto ``order.charged_by``.
"""

from apps.messaging.contracts import (
    CommitInventory,
    ProcessPayment,
    RefundPayment,
    ReleaseInventory,
    ReserveInventory,
    RestockInventory,
    StockLine,
)


def _ids(saga, order) -> dict:
    return {"saga_id": saga.saga_id, "order_id": order.pk}


def _stock(order) -> dict:
    return {"lines": tuple(StockLine(product_id=line.product_id, quantity=line.quantity) for line in order.stock_lines)}


def reserve_inventory(saga, order) -> ReserveInventory:
    return ReserveInventory(
        **_ids(saga, order),
        **_stock(order),
        expected_total=None if order.price_overridden else order.expected_total,
        price_override=order.price_overridden,
    )


def release_inventory(saga, order) -> ReleaseInventory:
    return ReleaseInventory(**_ids(saga, order), **_stock(order))


def commit_inventory(saga, order) -> CommitInventory:
    return CommitInventory(**_ids(saga, order), **_stock(order))


def restock_inventory(saga, order) -> RestockInventory:
    return RestockInventory(**_ids(saga, order), **_stock(order))


def process_payment(saga, order) -> ProcessPayment:
    return ProcessPayment(**_ids(saga, order), amount=order.total_amount, user_id=order.user_id)


def refund_payment(saga, order) -> RefundPayment:
    # Payments finds the charge by the saga that made it: the placement's, which the runtime loads.
    return RefundPayment(**_ids(saga, order), amount=order.total_amount, payment_saga_id=order.charged_by)
