"""The orchestrator's inbox: replies from inventory and payments move the saga on."""

from apps.messaging.consumer import HandlerContext
from apps.messaging.contracts import InventoryReleased, InventoryReserved, PaymentProcessed
from apps.orders.saga import SagaEvent
from apps.orders.services import saga_apply_event


def on_inventory_reserved(message: InventoryReserved, context: HandlerContext) -> None:
    event = SagaEvent.INVENTORY_RESERVED if message.success else SagaEvent.INVENTORY_RESERVE_FAILED
    saga_apply_event(saga_id=message.saga_id, order_id=message.order_id, event=event, reason=message.reason)


def on_payment_processed(message: PaymentProcessed, context: HandlerContext) -> None:
    event = SagaEvent.PAYMENT_SUCCEEDED if message.success else SagaEvent.PAYMENT_FAILED
    saga_apply_event(saga_id=message.saga_id, order_id=message.order_id, event=event, reason=message.reason)


def on_inventory_released(message: InventoryReleased, context: HandlerContext) -> None:
    event = SagaEvent.INVENTORY_RELEASED if message.success else SagaEvent.INVENTORY_RELEASE_FAILED
    saga_apply_event(saga_id=message.saga_id, order_id=message.order_id, event=event, reason=message.reason)


HANDLERS = {
    InventoryReserved.routing_key: on_inventory_reserved,
    PaymentProcessed.routing_key: on_payment_processed,
    InventoryReleased.routing_key: on_inventory_released,
}
