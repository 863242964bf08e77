"""The placement saga: reserve the stock, charge the payment, then sell the reserved units.

Reserving is undone by releasing, charging by refunding (a refund the gateway
declines is tried REFUND_ATTEMPTS times, see actions.py, before the saga waits
for a person). A refused reservation fails the order with nothing to undo; a declined payment releases the stock; a
step that gives no answer in time is undone with everything before it. A
customer may cancel while it runs: the same compensations, and the order ends
CANCELLED. Completion sends the commit (reserved -> sold), which nothing waits
for; inventory answers it only to refuse it.
"""

from apps.messaging.contracts import (
    CommitInventory,
    InventoryCommitted,
    InventoryReleased,
    InventoryReserved,
    PaymentProcessed,
    ProcessPayment,
    ReleaseInventory,
    ReserveInventory,
)
from apps.orders.models import OrderStatus, SagaStep, SagaType
from apps.orders.sagas import commands
from apps.orders.sagas.actions import REFUND
from apps.orders.sagas.cancellation import CANCELLED_ORDER
from apps.orders.sagas.engine import Action, Notice, OrderStatuses, SagaDefinition, Step

RELEASE = Action(
    step=SagaStep.RELEASING_INVENTORY,
    command=ReleaseInventory,
    build=commands.release_inventory,
    reply=InventoryReleased,
    succeeded="INVENTORY_RELEASED",
    failed="INVENTORY_RELEASE_FAILED",
    deadline=120.0,
)

PLACEMENT = SagaDefinition(
    saga_type=SagaType.PLACEMENT,
    description="Reserve the stock, charge the payment, sell the units",
    start_event="ORDER_PLACED",
    steps=(
        Step(
            Action(
                step=SagaStep.RESERVING_INVENTORY,
                command=ReserveInventory,
                build=commands.reserve_inventory,
                reply=InventoryReserved,
                succeeded="INVENTORY_RESERVED",
                failed="INVENTORY_RESERVE_FAILED",
                deadline=30.0,
                fixes_prices=True,
            ),
            compensation=RELEASE,
        ),
        Step(
            Action(
                step=SagaStep.PROCESSING_PAYMENT,
                command=ProcessPayment,
                build=commands.process_payment,
                reply=PaymentProcessed,
                succeeded="PAYMENT_SUCCEEDED",
                failed="PAYMENT_FAILED",
                deadline=30.0,
            ),
            compensation=REFUND,
        ),
    ),
    on_completion=(
        Notice(
            command=CommitInventory,
            build=commands.commit_inventory,
            reply=InventoryCommitted,
            applied="INVENTORY_COMMITTED",
            refused="INVENTORY_COMMIT_FAILED",
        ),
    ),
    order=OrderStatuses(
        running=OrderStatus.PENDING,
        completed=OrderStatus.CONFIRMED,
        failed=OrderStatus.FAILED,
        resolved=OrderStatus.FAILED,
        compensating=OrderStatus.FAILED,
        compensated=OrderStatus.COMPENSATED,
    ),
    cancelled=CANCELLED_ORDER,
)
