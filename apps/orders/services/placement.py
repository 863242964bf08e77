"""Placing an order: the order, its placement saga and the first command, in one transaction."""

from decimal import Decimal

from django.utils import timezone

from apps.orders.models import SagaState
from apps.orders.sagas import MACHINES
from apps.orders.sagas.placement import PLACEMENT
from apps.orders.services.idempotency import idempotent
from apps.orders.services.runtime import saga_start
from apps.orders.store import store_create_order


def order_place(
    *,
    user_id: int,
    product_id: int,
    quantity: int,
    total_amount: Decimal,
    trace_id: str = "",
    idempotency_key: str | None = None,
) -> SagaState:
    """Create the order, its placement saga and the first command, in one transaction on the orders database.

    With an ``idempotency_key``, a retry with the same body gets the first
    answer back. The returned saga carries ``order``, ``replayed`` and
    ``response_status`` (the order status of the first answer).

    Raises IdempotencyKeyReused when the key came first with another request.
    """
    request = {
        "user_id": user_id,
        "product_id": product_id,
        "quantity": quantity,
        "total_amount": str(Decimal(total_amount).quantize(Decimal("0.01"))),
    }

    def perform() -> SagaState:
        return _order_create(
            user_id=user_id, product_id=product_id, quantity=quantity, total_amount=total_amount, trace_id=trace_id
        )

    return idempotent(key=idempotency_key, request=request, perform=perform)


def _order_create(*, user_id: int, product_id: int, quantity: int, total_amount: Decimal, trace_id: str) -> SagaState:
    machine = MACHINES[PLACEMENT.saga_type]
    order = store_create_order(
        values={
            "user_id": user_id,
            "product_id": product_id,
            "quantity": quantity,
            "total_amount": total_amount,
            "status": machine.start.order_status,
        }
    )
    # No ORDER_PLACED history row: the saga row records the placement, and the timeline shows it first.
    saga = saga_start(machine=machine, order=order, trace_id=trace_id, now=timezone.now())
    saga.order, saga.response_status = order, order.status
    return saga
