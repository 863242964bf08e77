"""A customer cancels an order: its running placement is compensated, or a confirmed one gets a cancellation saga.

- PENDING (placement running forward): the placement saga is asked to cancel;
  it releases the stock and refunds anything charged, and the order ends CANCELLED.
- CONFIRMED within ORDER_CANCEL_WINDOW of its confirmation: a cancellation saga
  refunds the payment and puts the sold units back on sale.
- CANCELLING or CANCELLED: the same answer again, nothing new happens.
- anything else (FAILED, COMPENSATED, a confirmed order past the window): refused.

Every path locks the order's latest saga and then the order, as the orchestrator
does, so a cancel and a reply to the same saga take turns: one of them sees
what the other did.
"""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.messaging.retention import parse_age
from apps.orders.metrics import SAGA_CANCELLATIONS
from apps.orders.models import OrderStatus, SagaState, SagaType
from apps.orders.sagas import CANCEL_REQUESTED, MACHINES
from apps.orders.services.idempotency import idempotent
from apps.orders.services.runtime import StepContext, saga_advance, saga_start, saga_transition_for
from apps.orders.store import DATABASE, store_latest_saga_id, store_lock_saga, store_save_order_status

log = structlog.get_logger("orders.cancellation")


class OrderNotFound(Exception):
    """No order with that id."""


class OrderNotCancellable(Exception):
    """The order cannot be cancelled now; ``code`` says why, for the API."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def order_cancel(
    *,
    order_id: int,
    reason: str = "",
    actor: str = "",
    caller_id: int = 0,
    customer_id: int | None = None,
    trace_id: str = "",
    idempotency_key: str | None = None,
) -> SagaState:
    """Cancel the order; return the saga doing it, carrying ``order``, ``response_status`` and ``replayed``.

    With ``customer_id``, only that customer's order is found (another's is
    not found at all). ``caller_id`` owns the Idempotency-Key.

    Raises OrderNotFound, OrderNotCancellable, IdempotencyKeyReused.
    """
    request = {"cancel_order": order_id, "reason": reason}
    for _attempt in range(3):
        try:
            return idempotent(
                key=idempotency_key,
                user_id=caller_id,
                request=request,
                perform=lambda: _cancel(
                    order_id=order_id, reason=reason, actor=actor, customer_id=customer_id, trace_id=trace_id
                ),
            )
        except _Raced:
            # A twin cancel created the cancellation saga between our read and our lock: look again.
            continue
    raise OrderNotCancellable("ORDER_BUSY", f"Order {order_id} is changing; try again.")


class _Raced(Exception):
    pass


def _cancel(*, order_id: int, reason: str, actor: str, customer_id: int | None, trace_id: str) -> SagaState:
    saga_id = store_latest_saga_id(order_id=order_id)
    if saga_id is None:
        raise OrderNotFound(order_id)
    saga, order = store_lock_saga(saga_id=saga_id)
    if customer_id is not None and order.user_id != customer_id:
        raise OrderNotFound(order_id)
    if store_latest_saga_id(order_id=order_id) != saga_id:
        raise _Raced()
    now = timezone.now()
    if order.status in (OrderStatus.CANCELLING, OrderStatus.CANCELLED):
        return _answer(saga, order)
    if order.status == OrderStatus.PENDING:
        context = StepContext(
            saga, order, CANCEL_REQUESTED, now, reason=reason or "cancelled by the customer", actor=actor
        )
        transition = saga_transition_for(context)
        if transition is None:
            raise _not_cancellable(order)
        order.cancel_reason = reason[:255]
        saga_advance(context, transition)
        transaction.on_commit(SAGA_CANCELLATIONS.labels("pending").inc, using=DATABASE)
        log.info("order.cancel_requested", order_id=order_id, saga_id=str(saga.saga_id), was="PENDING")
        return _answer(saga, order)
    if order.status == OrderStatus.CONFIRMED:
        confirmed_at = saga.completed_at or saga.updated_at
        window = _cancel_window()
        if now > confirmed_at + window:
            raise OrderNotCancellable(
                "CANCEL_WINDOW_PASSED",
                f"Order {order_id} was confirmed more than {settings.ORDER_CANCEL_WINDOW} ago and can no longer "
                "be cancelled.",
            )
        return _start_cancellation(saga=saga, order=order, reason=reason, actor=actor, trace_id=trace_id, now=now)
    raise _not_cancellable(order)


def _not_cancellable(order) -> OrderNotCancellable:
    return OrderNotCancellable("ORDER_NOT_CANCELLABLE", f"Order {order.pk} is {order.status} and cannot be cancelled.")


def _start_cancellation(*, saga, order, reason: str, actor: str, trace_id: str, now) -> SagaState:
    machine = MACHINES[SagaType.CANCELLATION]
    try:
        with transaction.atomic(using=DATABASE):
            cancellation = saga_start(
                machine=machine,
                order=order,
                trace_id=trace_id or saga.trace_id,
                now=now,
                start_reason=reason or "cancelled by the customer",
                actor=actor,
            )
    except IntegrityError:
        # The order has another active saga: a twin got here first.
        raise _Raced() from None
    order.status, order.cancel_reason, order.updated_at = machine.start.order_status, reason[:255], now
    store_save_order_status(order)
    transaction.on_commit(SAGA_CANCELLATIONS.labels("confirmed").inc, using=DATABASE)
    log.info("order.cancel_requested", order_id=order.pk, saga_id=str(cancellation.saga_id), was="CONFIRMED")
    return _answer(cancellation, order)


def _answer(saga: SagaState, order) -> SagaState:
    saga.order, saga.response_status = order, order.status
    return saga


def _cancel_window() -> timedelta:
    return parse_age(settings.ORDER_CANCEL_WINDOW)
