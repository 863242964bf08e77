"""The saga runtime: start a saga, move it on by an event, in the caller's transaction on the orders database.

Every saga type runs through here; what a step does comes from its definition
(apps.orders.sagas), never from this module.
"""

import dataclasses
import uuid
from datetime import datetime, timedelta
from functools import partial

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.messaging.consumer import Unprocessable
from apps.messaging.contracts import RefundPayment
from apps.messaging.outbox import outbox_enqueue
from apps.orders.metrics import saga_observe_transition
from apps.orders.models import Order, OrderStatus, SagaState
from apps.orders.sagas import Action, Notice, SagaMachine, Transition, UnknownSagaType, machine_for
from apps.orders.services.pricing import order_fix_prices, order_lines_loaded
from apps.orders.store import (
    DATABASE,
    store_add_history,
    store_create_saga,
    store_lock_saga,
    store_placement_saga_id,
    store_save_order_status,
    store_save_saga,
)

log = structlog.get_logger("orders.saga")

CANCEL_STATUSES = frozenset({OrderStatus.CANCELLING, OrderStatus.CANCELLED})


@dataclasses.dataclass
class StepContext:
    """One step of one saga: the locked rows, what moved it, and who."""

    saga: SagaState
    order: Order
    event: str
    now: datetime
    message_id: uuid.UUID | None = None
    reason: str = ""
    actor: str = ""
    # The operator's own words, when one acted and wrote some.
    note: str = ""

    @property
    def machine(self) -> SagaMachine:
        return machine_for(self.saga.saga_type)


def saga_start(
    *,
    machine: SagaMachine,
    order: Order,
    trace_id: str,
    now: datetime,
    start_reason: str | None = None,
    actor: str = "",
) -> SagaState:
    """Create a saga of ``machine``'s type for ``order`` and send its first command; the caller holds the transaction.

    The start is written to the history only with a ``start_reason`` (a start with
    a reason or an actor worth keeping): the saga row itself says when it started.
    Raises IntegrityError when the order already has an active saga.
    """
    start = machine.start
    saga = store_create_saga(
        values={
            "saga_type": machine.saga_type,
            "order_id": order.pk,
            "active_order_id": order.pk,
            "status": start.status,
            "current_step": start.step,
            "trace_id": trace_id,
            "deadline_at": saga_deadline(machine, start.step, now),
        }
    )
    saga_send(saga, order, start.commands)
    if start_reason is not None:
        entry = StepContext(saga, order, machine.definition.start_event, now, reason=start_reason, actor=actor)
        saga_record(entry, from_status="", from_step="")
    log.info("saga.started", saga_id=str(saga.saga_id), order_id=order.pk, saga_type=machine.saga_type)
    return saga


def saga_lock(*, saga_id: uuid.UUID, order_id: int) -> tuple[SagaState, Order]:
    """Lock the saga a reply names, with its order; raise Unprocessable for an unknown saga or another order's."""
    locked = store_lock_saga(saga_id=saga_id)
    if locked is None:
        raise Unprocessable(f"no saga {saga_id}")
    saga, order = locked
    if saga.order_id != order_id:
        raise Unprocessable(f"saga {saga_id} belongs to order {saga.order_id}, not {order_id}")
    return saga, order


def saga_apply_event(
    *,
    saga_id: uuid.UUID,
    order_id: int,
    event: str,
    reason: str = "",
    message_id: uuid.UUID | None = None,
    reply=None,
) -> SagaState | None:
    """Move the saga on by ``event`` inside the orders consumer's transaction.

    A stale event (the saga is no longer in the step it answers) changes
    nothing, is noted in the saga's history, and returns None. The ``reply``
    of a step that fixes prices (the reservation) writes them on the order first.

    Raises Unprocessable when the saga is unknown, belongs to another order, or has no definition.
    """
    saga, order = saga_lock(saga_id=saga_id, order_id=order_id)
    context = StepContext(saga, order, event, timezone.now(), message_id=message_id, reason=reason)
    try:
        transition = saga_transition_for(context)
    except UnknownSagaType:
        raise Unprocessable(f"saga {saga_id} has the unknown type {saga.saga_type!r}") from None
    if transition is None:
        log.info("saga.stale_event", saga_event=event, status=saga.status, step=saga.current_step)
        context.reason = _ignored(reason)
        saga_record(context, from_status=saga.status, from_step=saga.current_step)
        return None
    action = context.machine.step_action(status=saga.status, step=saga.current_step)
    if reply is not None and action is not None and action.fixes_prices and event == action.succeeded:
        order_fix_prices(order=order, reply=reply)
    saga_advance(context, transition)
    return saga


def saga_note(
    *, saga_id: uuid.UUID, order_id: int, notice: Notice, success: bool, reason: str = "", message_id=None
) -> None:
    """Note in a completed saga's history that a completion notice was refused (or, from older versions, applied).

    Runs inside the orders consumer's transaction. Raises Unprocessable like saga_apply_event.
    """
    saga, order = saga_lock(saga_id=saga_id, order_id=order_id)
    if not success:
        log.warning("saga.notice_refused", command=notice.command.__name__, reason=reason)
    event = notice.applied if success else notice.refused
    context = StepContext(saga, order, event, timezone.now(), message_id=message_id, reason=reason)
    saga_record(context, from_status=saga.status, from_step=saga.current_step)


def saga_transition_for(context: StepContext) -> Transition | None:
    saga = context.saga
    return context.machine.transition(
        status=saga.status,
        step=saga.current_step,
        cancelling=saga.cancelling,
        event=context.event,
        attempts=saga.step_attempts,
    )


def saga_advance(context: StepContext, transition: Transition) -> None:
    """Apply ``transition`` to the locked saga and order: state, commands, history, in the open transaction."""
    saga, order, now = context.saga, context.order, context.now
    from_status, from_step, step_started_at = saga.status, saga.current_step, saga.updated_at
    moved = (transition.status, transition.step) != (saga.status, saga.current_step)
    saga.status, saga.current_step, saga.cancelling = transition.status, transition.step, transition.cancelling
    saga.step_attempts = saga.step_attempts + 1 if transition.attempt else 0 if moved else saga.step_attempts
    if transition.terminal:
        saga.deadline_at, saga.completed_at, saga.active_order_id = None, now, None
    elif moved:
        saga.deadline_at = saga_deadline(context.machine, transition.step, now)
    saga.updated_at = now
    store_save_saga(saga)
    failure_reason = order.failure_reason
    if not failure_reason and transition.order_status not in CANCEL_STATUSES:
        # The first reason a saga gives is why the order failed; a cancellation's replies explain nothing.
        failure_reason = context.reason[:255]
    if (transition.order_status, failure_reason) != (order.status, order.failure_reason):
        # Most steps leave the order as it was (PENDING while reserving and paying): no write, no new updated_at.
        order.status, order.failure_reason, order.updated_at = transition.order_status, failure_reason, now
        store_save_order_status(order)
    saga_send(saga, order, transition.commands)
    transaction.on_commit(
        partial(saga_observe_transition, saga=saga, from_step=from_step, step_started_at=step_started_at),
        using=DATABASE,
    )
    saga_record(context, from_status=from_status, from_step=from_step)
    if transition.terminal:
        log.info("saga.terminal", status=saga.status, step=saga.current_step)
    else:
        log.info("saga.advanced", saga_event=context.event, status=saga.status, step=saga.current_step)


def saga_send(saga: SagaState, order: Order, commands: tuple[Action | Notice, ...]) -> None:
    """Put the commands, each built by its own action, in the orders outbox."""
    if any(command.moves_stock for command in commands):
        order_lines_loaded(order)
    if any(command.command is RefundPayment for command in commands):
        order.charged_by = store_placement_saga_id(order_id=order.pk)
    for command in commands:
        outbox_enqueue(using=DATABASE, message=command.make(saga, order))


def saga_record(context: StepContext, *, from_status: str, from_step: str) -> None:
    """Add one timeline entry: the saga as it is now, reached from (from_status, from_step) by the context's event."""
    saga = context.saga
    values = {
        "saga": saga.pk,
        "at": context.now,
        "from_status": from_status,
        "from_step": from_step,
        "to_status": saga.status,
        "to_step": saga.current_step,
        "event": str(context.event),
        "message_id": context.message_id,
        "reason": context.reason[:255],
        "actor": context.actor[:150],
    }
    if context.note:
        # Only an operator writes one; every other row keeps the column's database default (and its batch shape).
        values["note"] = context.note[:1000]
    store_add_history(values=values)


def saga_deadline(machine: SagaMachine, step: str, now: datetime) -> datetime | None:
    seconds = machine.deadline(step, settings.SAGA_STEP_DEADLINES)
    return None if seconds is None else now + timedelta(seconds=seconds)


def _ignored(reason: str) -> str:
    return f"ignored: the saga had moved on{f' ({reason})' if reason else ''}"[:255]
