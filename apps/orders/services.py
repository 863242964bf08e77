"""Writes of the orders app: placing orders and driving sagas."""

from datetime import timedelta
from decimal import Decimal
from functools import partial

import structlog
from django.db import transaction
from django.utils import timezone

from apps.messaging.consumer import Unprocessable
from apps.messaging.contracts import ProcessPayment, ReleaseInventory, ReserveInventory
from apps.messaging.outbox import outbox_enqueue, outbox_has_pending
from apps.orders.metrics import SAGA_RESENT, saga_observe_transition
from apps.orders.models import Order, SagaState
from apps.orders.saga import ACTIVE_STATUSES, START, SagaCommand, SagaEvent, saga_step_command, saga_transition

DATABASE = "orders"
log = structlog.get_logger("orders.saga")

ACTIVE_STATUS_VALUES = sorted(status.value for status in ACTIVE_STATUSES)


def order_place(
    *, user_id: int, product_id: int, quantity: int, total_amount: Decimal, trace_id: str = ""
) -> SagaState:
    """Create the order, its saga and the first command, in one transaction on the orders database."""
    with transaction.atomic(using=DATABASE, durable=True):
        order = Order.objects.create(
            user_id=user_id,
            product_id=product_id,
            quantity=quantity,
            total_amount=total_amount,
            status=START.order_status,
        )
        saga = SagaState.objects.create(
            order_id=order.pk, status=START.status, current_step=START.step, trace_id=trace_id
        )
        for command in START.commands:
            outbox_enqueue(using=DATABASE, message=_command(command, saga, order), trace_id=trace_id)
    log.info("saga.started", saga_id=str(saga.saga_id), order_id=order.pk)
    saga.order = order
    return saga


def saga_apply_event(*, saga_id, order_id: int, event: SagaEvent, reason: str = "") -> SagaState | None:
    """Move the saga on by ``event`` inside the orders consumer's transaction.

    A stale event (the saga is no longer in the step it answers) changes nothing
    and returns None.

    Raises Unprocessable when the saga is unknown or belongs to another order.
    """
    saga = SagaState.objects.select_for_update().filter(saga_id=saga_id).first()
    if saga is None:
        raise Unprocessable(f"no saga {saga_id}")
    if saga.order_id != order_id:
        raise Unprocessable(f"saga {saga_id} belongs to order {saga.order_id}, not {order_id}")
    transition = saga_transition(status=saga.status, step=saga.current_step, event=event)
    if transition is None:
        log.info("saga.stale_event", saga_event=event.value, status=saga.status, step=saga.current_step)
        return None
    order = Order.objects.get(pk=saga.order_id)
    now = timezone.now()
    from_step, step_started_at = saga.current_step, saga.updated_at
    saga.status, saga.current_step = transition.status, transition.step
    if transition.terminal:
        saga.completed_at = now
    saga.save(update_fields=["status", "current_step", "completed_at", "updated_at"])
    order.status = transition.order_status
    if reason and not order.failure_reason:
        order.failure_reason = reason[:255]
    order.save(update_fields=["status", "failure_reason", "updated_at"])
    for command in transition.commands:
        outbox_enqueue(using=DATABASE, message=_command(command, saga, order), trace_id=saga.trace_id)
    transaction.on_commit(
        partial(saga_observe_transition, saga=saga, from_step=from_step, step_started_at=step_started_at),
        using=DATABASE,
    )
    if transition.terminal:
        log.info("saga.terminal", status=saga.status, step=saga.current_step)
    else:
        log.info("saga.advanced", saga_event=event.value, status=saga.status, step=saga.current_step)
    return saga


def saga_recover(*, older_than: timedelta, limit: int = 500) -> int:
    """Re-send the current step's command of every active saga idle for ``older_than``.

    Each re-send gets a fresh message_id (the consumers answer it from their
    logs if they already acted). A saga with a command still in the outbox is
    left alone, and a saga another recovery holds is skipped. Returns how many
    commands were re-sent.
    """
    cutoff = timezone.now() - older_than
    candidates = list(
        SagaState.objects.filter(status__in=ACTIVE_STATUS_VALUES, updated_at__lte=cutoff)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    resent = 0
    for pk in candidates:
        with transaction.atomic(using=DATABASE, durable=True):
            saga = (
                SagaState.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, updated_at__lte=cutoff, status__in=ACTIVE_STATUS_VALUES)
                .first()
            )
            if saga is None or outbox_has_pending(using=DATABASE, saga_id=saga.saga_id):
                continue
            command = saga_step_command(status=saga.status, step=saga.current_step)
            order = Order.objects.get(pk=saga.order_id)
            outbox_enqueue(using=DATABASE, message=_command(command, saga, order), trace_id=saga.trace_id)
            saga.save(update_fields=["updated_at"])
        SAGA_RESENT.labels(saga.current_step).inc()
        log.info("saga.recovery_resent", saga_id=str(saga.saga_id), step=saga.current_step, command=command.value)
        resent += 1
    return resent


def _command(command: SagaCommand, saga: SagaState, order: Order):
    ids = {"saga_id": saga.saga_id, "order_id": order.pk}
    if command is SagaCommand.RESERVE_INVENTORY:
        return ReserveInventory(**ids, product_id=order.product_id, quantity=order.quantity)
    if command is SagaCommand.RELEASE_INVENTORY:
        return ReleaseInventory(**ids, product_id=order.product_id, quantity=order.quantity)
    return ProcessPayment(**ids, amount=order.total_amount)
