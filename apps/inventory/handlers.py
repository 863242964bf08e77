"""Inventory's commands: reserve, release and commit stock, reply through the outbox."""

from apps.inventory.services import DATABASE, inventory_commit, inventory_release, inventory_reserve
from apps.messaging.consumer import HandlerContext
from apps.messaging.contracts import (
    CommitInventory,
    InventoryCommitted,
    InventoryReleased,
    InventoryReserved,
    ReleaseInventory,
    ReserveInventory,
)
from apps.messaging.outbox import outbox_enqueue


def on_reserve(message: ReserveInventory, context: HandlerContext) -> None:
    decision = inventory_reserve(order_id=message.order_id, product_id=message.product_id, quantity=message.quantity)
    reply = InventoryReserved(
        saga_id=message.saga_id,
        order_id=message.order_id,
        product_id=message.product_id,
        quantity=message.quantity,
        success=decision.success,
        reason=decision.reason,
    )
    outbox_enqueue(using=DATABASE, message=reply, trace_id=context.trace_id)


def on_release(message: ReleaseInventory, context: HandlerContext) -> None:
    decision = inventory_release(order_id=message.order_id, product_id=message.product_id)
    reply = InventoryReleased(
        saga_id=message.saga_id,
        order_id=message.order_id,
        product_id=decision.product_id,
        quantity=decision.quantity,
        success=decision.success,
        reason=decision.reason,
    )
    outbox_enqueue(using=DATABASE, message=reply, trace_id=context.trace_id)


def on_commit(message: CommitInventory, context: HandlerContext) -> None:
    decision = inventory_commit(order_id=message.order_id, product_id=message.product_id)
    reply = InventoryCommitted(
        saga_id=message.saga_id,
        order_id=message.order_id,
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
}
