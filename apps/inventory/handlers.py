"""Inventory's commands: reserve, release, commit and restock stock, reply through the outbox.

A commit is answered only when refused."""

from apps.inventory.services import (
    DATABASE,
    StockDecision,
    inventory_commit,
    inventory_release,
    inventory_reserve,
    inventory_restock,
)
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
    decision = inventory_reserve(order_id=message.order_id, product_id=message.product_id, quantity=message.quantity)
    _reply(InventoryReserved, message, decision, context)


def on_release(message: ReleaseInventory, context: HandlerContext) -> None:
    decision = inventory_release(order_id=message.order_id, product_id=message.product_id)
    _reply(InventoryReleased, message, decision, context)


def on_commit(message: CommitInventory, context: HandlerContext) -> None:
    """Move the order's reservation to sold. Only a refusal is answered: the saga completed before the commit
    was sent and waits for nothing, so a successful commit's answer would be a message that changes nothing."""
    decision = inventory_commit(order_id=message.order_id, product_id=message.product_id)
    if not decision.success:
        _reply(InventoryCommitted, message, decision, context)


def on_restock(message: RestockInventory, context: HandlerContext) -> None:
    decision = inventory_restock(order_id=message.order_id, product_id=message.product_id)
    _reply(InventoryRestocked, message, decision, context)


def _reply(reply_type, command, decision: StockDecision, context: HandlerContext) -> None:
    """Answer ``command`` with its decision: what was moved (from the log), whether, and why not."""
    reply = reply_type(
        saga_id=command.saga_id,
        order_id=command.order_id,
        product_id=decision.product_id,
        quantity=decision.quantity,
        success=decision.success,
        reason=decision.reason,
    )
    outbox_enqueue(using=DATABASE, message=reply, trace_id=context.trace_id)


HANDLERS = {
    ReserveInventory.routing_key: on_reserve,
    ReleaseInventory.routing_key: on_release,
    CommitInventory.routing_key: on_commit,
    RestockInventory.routing_key: on_restock,
}
