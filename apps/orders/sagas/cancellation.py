"""The cancellation saga: a CONFIRMED order is cancelled, its payment refunded and its units put back on sale.

Both steps come after the point of no return (the order was delivered to the
books), so neither has a compensation: each is retried until it is done. A
refund the gateway keeps declining is tried REFUND_ATTEMPTS times (recovery
re-sends it after SAGA_RECOVERY_AGE each time), then the saga fails there and
waits for a person. The order is CANCELLING while it runs, CANCELLED at the end.
"""

from apps.messaging.contracts import InventoryRestocked, RestockInventory
from apps.orders.models import OrderStatus, SagaStep, SagaType
from apps.orders.sagas import commands
from apps.orders.sagas.actions import REFUND
from apps.orders.sagas.engine import Action, OrderStatuses, SagaDefinition, Step

# What a cancelled order shows: cancelling while the money and the stock go back, cancelled after.
CANCELLED_ORDER = OrderStatuses(
    running=OrderStatus.CANCELLING,
    completed=OrderStatus.CANCELLED,
    failed=OrderStatus.CANCELLING,
    resolved=OrderStatus.CANCELLED,
    compensating=OrderStatus.CANCELLING,
    compensated=OrderStatus.CANCELLED,
)

CANCELLATION = SagaDefinition(
    saga_type=SagaType.CANCELLATION,
    description="Refund the payment, put the sold units back on sale",
    start_event="CANCEL_REQUESTED",
    steps=(
        Step(REFUND),
        Step(
            Action(
                step=SagaStep.RESTOCKING_INVENTORY,
                command=RestockInventory,
                build=commands.restock_inventory,
                reply=InventoryRestocked,
                succeeded="INVENTORY_RESTOCKED",
                failed="INVENTORY_RESTOCK_FAILED",
                deadline=120.0,
            )
        ),
    ),
    order=CANCELLED_ORDER,
)
