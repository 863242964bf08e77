"""The orchestrator's inbox: replies from inventory and payments move the saga on."""

from apps.messaging.consumer import HandlerContext
from apps.messaging.contracts import (
    InventoryCommitted,
    InventoryReleased,
    InventoryReserved,
    PaymentProcessed,
    PaymentRefunded,
)
from apps.orders.saga import SagaEvent
from apps.orders.services import saga_apply_event, saga_note_commit


def on_inventory_reserved(message: InventoryReserved, context: HandlerContext) -> None:
    event = SagaEvent.INVENTORY_RESERVED if message.success else SagaEvent.INVENTORY_RESERVE_FAILED
    _apply(message, context, event)


def on_payment_processed(message: PaymentProcessed, context: HandlerContext) -> None:
    event = SagaEvent.PAYMENT_SUCCEEDED if message.success else SagaEvent.PAYMENT_FAILED
    _apply(message, context, event)


def on_payment_refunded(message: PaymentRefunded, context: HandlerContext) -> None:
    event = SagaEvent.PAYMENT_REFUNDED if message.success else SagaEvent.PAYMENT_REFUND_FAILED
    _apply(message, context, event)


def on_inventory_released(message: InventoryReleased, context: HandlerContext) -> None:
    event = SagaEvent.INVENTORY_RELEASED if message.success else SagaEvent.INVENTORY_RELEASE_FAILED
    _apply(message, context, event)


def on_inventory_committed(message: InventoryCommitted, context: HandlerContext) -> None:
    saga_note_commit(
        saga_id=message.saga_id,
        order_id=message.order_id,
        success=message.success,
        reason=message.reason,
        message_id=context.message_id,
    )


def _apply(message, context: HandlerContext, event: SagaEvent) -> None:
    saga_apply_event(
        saga_id=message.saga_id,
        order_id=message.order_id,
        event=event,
        reason=message.reason,
        message_id=context.message_id,
    )


HANDLERS = {
    InventoryReserved.routing_key: on_inventory_reserved,
    PaymentProcessed.routing_key: on_payment_processed,
    PaymentRefunded.routing_key: on_payment_refunded,
    InventoryReleased.routing_key: on_inventory_released,
    InventoryCommitted.routing_key: on_inventory_committed,
}
