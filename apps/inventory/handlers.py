"""Inventory's commands: reserve, release, commit and restock stock, reply through the outbox.

A commit is answered only when refused."""

from apps.inventory.services import (
    DATABASE,
    StockDecision,
    StockLine,
    inventory_commit,
    inventory_release,
    inventory_reserve,
    inventory_restock,
)
from apps.messaging import contracts
from apps.messaging.consumer import HandlerContext
from apps.messaging.contracts import (
    CommitInventory,
    InventoryCommitted,
    InventoryReleased,
    InventoryReserved,
    InventoryRestocked,
    ReleaseInventory,
    ReserveInventory,
    RestockInventory,
)
from apps.messaging.outbox import outbox_enqueue


def on_reserve(message: ReserveInventory, context: HandlerContext) -> None:
    decision = inventory_reserve(
        order_id=message.order_id,
        lines=_stock(message),
        expected_total=message.expected_total,
        price_override=message.price_override,
    )
    _reply(InventoryReserved, message, decision, context, currency=decision.currency if decision.success else "")


def on_release(message: ReleaseInventory, context: HandlerContext) -> None:
    decision = inventory_release(order_id=message.order_id, lines=_stock(message))
    _reply(InventoryReleased, message, decision, context)


def on_commit(message: CommitInventory, context: HandlerContext) -> None:
    """Move the order's reservation to sold. Only a refusal is answered: the saga completed before the commit
    was sent and waits for nothing, so a successful commit's answer would be a message that changes nothing."""
    decision = inventory_commit(order_id=message.order_id, lines=_stock(message))
    if not decision.success:
        _reply(InventoryCommitted, message, decision, context)


def on_restock(message: RestockInventory, context: HandlerContext) -> None:
    decision = inventory_restock(order_id=message.order_id, lines=_stock(message))
    _reply(InventoryRestocked, message, decision, context)


def _stock(message) -> list[StockLine]:
    return [StockLine(line.product_id, line.quantity) for line in message.lines]


def _reply(reply_type, command, decision: StockDecision, context: HandlerContext, **extra) -> None:
    """Answer ``command`` with its decision: what was moved (from the log), whether, and why not."""
    reply = reply_type(
        saga_id=command.saga_id,
        order_id=command.order_id,
        lines=tuple(
            contracts.StockLine(product_id=line.product_id, quantity=line.quantity, unit_price=line.unit_price)
            for line in decision.lines
        ),
        success=decision.success,
        reason=decision.reason,
        **extra,
    )
    outbox_enqueue(using=DATABASE, message=reply)


HANDLERS = {
    ReserveInventory.routing_key: on_reserve,
    ReleaseInventory.routing_key: on_release,
    CommitInventory.routing_key: on_commit,
    RestockInventory.routing_key: on_restock,
}
