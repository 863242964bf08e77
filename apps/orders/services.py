"""Writes of the orders app: placing orders, driving sagas, and operators acting on them."""

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.sql import sql_create, sql_execute, sql_insert_later, sql_instance, sql_param, sql_rows
from apps.messaging.consumer import Unprocessable
from apps.messaging.contracts import CommitInventory, ProcessPayment, RefundPayment, ReleaseInventory, ReserveInventory
from apps.messaging.outbox import outbox_enqueue, outbox_has_pending
from apps.orders.metrics import SAGA_DEADLINES_PASSED, SAGA_OPERATOR_ACTIONS, SAGA_RESENT, saga_observe_transition
from apps.orders.models import Order, OrderIdempotencyKey, SagaHistory, SagaState, SagaStatus
from apps.orders.saga import (
    ACTIVE_STATUSES,
    START,
    SagaCommand,
    SagaEvent,
    Transition,
    saga_step_command,
    saga_transition,
)

DATABASE = "orders"
log = structlog.get_logger("orders.saga")

ACTIVE_STATUS_VALUES = sorted(status.value for status in ACTIVE_STATUSES)

# Timeline entries that are not events of the state machine.
STEP_RETRIED = "STEP_RETRIED"
INVENTORY_COMMITTED = "INVENTORY_COMMITTED"
INVENTORY_COMMIT_FAILED = "INVENTORY_COMMIT_FAILED"

# A second retry of the same saga this soon after the first is a double click, not a decision.
RETRY_DOUBLE_CLICK_WINDOW = timedelta(seconds=10)


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was first used for a different order request."""


class SagaNotFound(Exception):
    """No saga with that id."""


def order_place(
    *,
    user_id: int,
    product_id: int,
    quantity: int,
    total_amount: Decimal,
    trace_id: str = "",
    idempotency_key: str | None = None,
) -> SagaState:
    """Create the order, its saga and the first command, in one transaction on the orders database.

    With an ``idempotency_key``, the key is stored with a fingerprint of the
    request in the same transaction; its unique constraint makes concurrent
    twins wait for the first and then replay its answer. The returned saga
    carries ``order``, ``replayed`` (True for a replay) and ``response_status``
    (the order status of the first answer).

    Raises IdempotencyKeyReused when the key came first with another request.
    """
    request = {"user_id": user_id, "product_id": product_id, "quantity": quantity, "total_amount": total_amount}
    if idempotency_key is None:
        with transaction.atomic(using=DATABASE, durable=True):
            return _order_create(**request, trace_id=trace_id)
    fingerprint = _fingerprint(**request)
    try:
        with transaction.atomic(using=DATABASE, durable=True):
            # First, so a twin blocks on the key before doing any work.
            key = OrderIdempotencyKey.objects.create(key=idempotency_key, fingerprint=fingerprint)
            saga = _order_create(**request, trace_id=trace_id)
            key.order_id, key.saga_id, key.response_status = saga.order_id, saga.saga_id, saga.response_status
            key.save(update_fields=["order_id", "saga_id", "response_status"])
            return saga
    except IntegrityError:
        # The key is taken: a twin committed it (we waited for it on its row lock).
        pass
    return _order_replay(key=idempotency_key, fingerprint=fingerprint)


def _order_create(*, user_id: int, product_id: int, quantity: int, total_amount: Decimal, trace_id: str) -> SagaState:
    now = timezone.now()
    order = sql_create(
        using=DATABASE,
        model=Order,
        values={
            "user_id": user_id,
            "product_id": product_id,
            "quantity": quantity,
            "total_amount": total_amount,
            "status": START.order_status,
        },
    )
    saga = sql_create(
        using=DATABASE,
        model=SagaState,
        values={
            "order_id": order.pk,
            "status": START.status,
            "current_step": START.step,
            "trace_id": trace_id,
            "deadline_at": _deadline(START.step, now),
        },
    )
    for command in START.commands:
        outbox_enqueue(using=DATABASE, message=_command(command, saga, order), trace_id=trace_id)
    # No ORDER_PLACED history row: the saga row records the placement, and the timeline shows it first.
    log.info("saga.started", saga_id=str(saga.saga_id), order_id=order.pk)
    saga.order, saga.replayed, saga.response_status = order, False, order.status
    return saga


def _order_replay(*, key: str, fingerprint: str) -> SagaState:
    stored = OrderIdempotencyKey.objects.get(key=key)
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused(key)
    saga = SagaState.objects.get(saga_id=stored.saga_id)
    saga.order = Order.objects.get(pk=saga.order_id)
    saga.replayed, saga.response_status = True, stored.response_status
    log.info("order.replayed", saga_id=str(saga.saga_id), order_id=saga.order_id)
    return saga


def _fingerprint(*, user_id: int, product_id: int, quantity: int, total_amount: Decimal) -> str:
    canonical = {
        "user_id": user_id,
        "product_id": product_id,
        "quantity": quantity,
        "total_amount": str(Decimal(total_amount).quantize(Decimal("0.01"))),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def saga_apply_event(
    *, saga_id: uuid.UUID, order_id: int, event: SagaEvent, reason: str = "", message_id: uuid.UUID | None = None
) -> SagaState | None:
    """Move the saga on by ``event`` inside the orders consumer's transaction.

    A stale event (the saga is no longer in the step it answers) changes
    nothing, is noted in the saga's history, and returns None.

    Raises Unprocessable when the saga is unknown or belongs to another order.
    """
    saga, order = _locked_saga(saga_id=saga_id, order_id=order_id)
    transition = saga_transition(status=saga.status, step=saga.current_step, event=event)
    now = timezone.now()
    if transition is None:
        log.info("saga.stale_event", saga_event=event.value, status=saga.status, step=saga.current_step)
        _record(
            saga,
            at=now,
            from_status=saga.status,
            from_step=saga.current_step,
            event=event,
            message_id=message_id,
            reason=_ignored(reason),
        )
        return None
    _advance(saga, order, transition, event=event, now=now, message_id=message_id, reason=reason)
    return saga


def saga_note_commit(
    *, saga_id: uuid.UUID, order_id: int, success: bool, reason: str = "", message_id: uuid.UUID | None = None
) -> None:
    """Note in a completed saga's history that inventory refused (or, from older versions, applied) its commit.

    Inventory answers a commit only to refuse it; an applied commit is in inventory's own log.

    Runs inside the orders consumer's transaction. Raises Unprocessable like saga_apply_event.
    """
    saga, _order = _locked_saga(saga_id=saga_id, order_id=order_id)
    if not success:
        log.warning("saga.commit_refused", reason=reason)
    _record(
        saga,
        at=timezone.now(),
        from_status=saga.status,
        from_step=saga.current_step,
        event=INVENTORY_COMMITTED if success else INVENTORY_COMMIT_FAILED,
        message_id=message_id,
        reason=reason,
    )


# What a reply needs: the whole saga, and the order's columns its commands and failure reason use.
_LOCKED_SAGA_FIELDS = (
    "id",
    "saga_id",
    "order_id",
    "status",
    "current_step",
    "created_at",
    "updated_at",
    "completed_at",
    "deadline_at",
    "trace_id",
)
_LOCKED_ORDER_FIELDS = ("id", "product_id", "quantity", "total_amount", "status", "failure_reason")
# Locks the order row with the saga's: harmless, as every other writer of an order holds its saga's lock first.
# The column names are this module's constants; the saga id goes through a placeholder.
_LOCKED_SAGA_SQL = (
    "SELECT "  # noqa: S608
    + ", ".join([f"s.{name}" for name in _LOCKED_SAGA_FIELDS] + [f"o.{name}" for name in _LOCKED_ORDER_FIELDS])
    + " FROM saga_states s JOIN orders o ON o.id = s.order_id WHERE s.saga_id = %s"
)


def _locked_saga(*, saga_id: uuid.UUID, order_id: int) -> tuple[SagaState, Order]:
    """Lock the saga a reply names, with its order; raise Unprocessable for an unknown saga or another order's."""
    rows = sql_rows(
        using=DATABASE,
        sql=_LOCKED_SAGA_SQL,
        params=[sql_param(using=DATABASE, model=SagaState, field="saga_id", value=saga_id)],
        for_update=True,
    )
    if not rows:
        raise Unprocessable(f"no saga {saga_id}")
    split = len(_LOCKED_SAGA_FIELDS)
    saga = sql_instance(using=DATABASE, model=SagaState, fields=_LOCKED_SAGA_FIELDS, row=rows[0][:split])
    if saga.order_id != order_id:
        raise Unprocessable(f"saga {saga_id} belongs to order {saga.order_id}, not {order_id}")
    order = sql_instance(using=DATABASE, model=Order, fields=_LOCKED_ORDER_FIELDS, row=rows[0][split:])
    return saga, order


def _advance(
    saga: SagaState,
    order: Order,
    transition: Transition,
    *,
    event: SagaEvent,
    now: datetime,
    message_id: uuid.UUID | None = None,
    reason: str = "",
    actor: str = "",
) -> None:
    """Apply ``transition`` to the locked ``saga`` and ``order``: state, commands, history, in the open transaction."""
    from_status, from_step, step_started_at = saga.status, saga.current_step, saga.updated_at
    saga.status, saga.current_step = transition.status, transition.step
    saga.deadline_at = None if transition.terminal else _deadline(transition.step, now)
    if transition.terminal:
        saga.completed_at = now
    saga.updated_at = now
    sql_execute(
        using=DATABASE,
        sql="UPDATE saga_states SET status = %s, current_step = %s, completed_at = %s, deadline_at = %s, "
        "updated_at = %s WHERE id = %s",
        params=[
            saga.status,
            saga.current_step,
            _datetime_param(SagaState, "completed_at", saga.completed_at),
            _datetime_param(SagaState, "deadline_at", saga.deadline_at),
            _datetime_param(SagaState, "updated_at", now),
            saga.pk,
        ],
    )
    status, failure_reason = transition.order_status, order.failure_reason or reason[:255]
    if (status, failure_reason) != (order.status, order.failure_reason):
        # Most steps leave the order as it was (PENDING while reserving and paying): no write, no new updated_at.
        order.status, order.failure_reason, order.updated_at = status, failure_reason, now
        sql_execute(
            using=DATABASE,
            sql="UPDATE orders SET status = %s, failure_reason = %s, updated_at = %s WHERE id = %s",
            params=[order.status, order.failure_reason, _datetime_param(Order, "updated_at", now), order.pk],
        )
    for command in transition.commands:
        outbox_enqueue(using=DATABASE, message=_command(command, saga, order), trace_id=saga.trace_id)
    transaction.on_commit(
        partial(saga_observe_transition, saga=saga, from_step=from_step, step_started_at=step_started_at),
        using=DATABASE,
    )
    _record(
        saga,
        at=now,
        from_status=from_status,
        from_step=from_step,
        event=event,
        message_id=message_id,
        reason=reason,
        actor=actor,
    )
    if transition.terminal:
        log.info("saga.terminal", status=saga.status, step=saga.current_step)
    else:
        log.info("saga.advanced", saga_event=event.value, status=saga.status, step=saga.current_step)


def saga_expire_deadlines(*, limit: int = 500) -> int:
    """Compensate every saga whose forward step has passed its deadline; returns how many.

    Reserving is abandoned by releasing (which also refuses a late
    reservation); payment by releasing and refunding (which also refuses a late
    charge). Compensating steps have no deadline transition: recovery keeps
    re-sending them and the admin flags them stuck. Each saga is locked with
    SKIP LOCKED, so concurrent checks and the orchestrator never double up.
    """
    now = timezone.now()
    candidates = list(
        SagaState.objects.filter(status=SagaStatus.IN_PROGRESS, deadline_at__lte=now)
        .order_by("deadline_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in candidates:
        with transaction.atomic(using=DATABASE, durable=True):
            saga = (
                SagaState.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=SagaStatus.IN_PROGRESS, deadline_at__lte=now)
                .first()
            )
            if saga is None:
                continue
            step = saga.current_step
            transition = saga_transition(status=saga.status, step=step, event=SagaEvent.DEADLINE_PASSED)
            if transition is None:
                continue
            reason = f"{step} got no answer within {settings.SAGA_STEP_DEADLINES[step]:g}s"
            order = Order.objects.get(pk=saga.order_id)
            _advance(saga, order, transition, event=SagaEvent.DEADLINE_PASSED, now=timezone.now(), reason=reason)
        SAGA_DEADLINES_PASSED.labels(step).inc()
        log.warning("saga.deadline_passed", saga_id=str(saga.saga_id), step=step)
        expired += 1
    return expired


def saga_recover(*, older_than: timedelta, limit: int = 500) -> int:
    """Re-send the current step's command of every active saga idle for ``older_than``.

    Each re-send gets a fresh message_id (the consumers answer it from their
    logs if they already acted). A saga with a command still in the outbox is
    left alone, and a saga another recovery holds is skipped. Returns how many
    commands were re-sent. Re-sends are not written to the saga's history:
    they change nothing, and a long outage would flood it.
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


# --- operator actions (the admin) -------------------------------------------------------


def saga_retry_step(*, saga_id: uuid.UUID, actor: str) -> bool:
    """Re-send the current step's command of an active saga and give the step a fresh deadline.

    Returns False, changing nothing, when the saga is not active, its command
    still waits in the outbox, or it was retried less than
    RETRY_DOUBLE_CLICK_WINDOW ago (so a second click does not send it twice).

    Raises SagaNotFound.
    """
    with transaction.atomic(using=DATABASE, durable=True):
        saga = _saga_for_operator(saga_id)
        command = saga_step_command(status=saga.status, step=saga.current_step)
        now = timezone.now()
        if (
            command is None
            or outbox_has_pending(using=DATABASE, saga_id=saga.saga_id)
            or SagaHistory.objects.filter(
                saga=saga, event=STEP_RETRIED, at__gte=now - RETRY_DOUBLE_CLICK_WINDOW
            ).exists()
        ):
            return False
        order = Order.objects.get(pk=saga.order_id)
        outbox_enqueue(using=DATABASE, message=_command(command, saga, order), trace_id=saga.trace_id)
        saga.deadline_at = _deadline(saga.current_step, now)
        saga.save(update_fields=["deadline_at", "updated_at"])
        _record(
            saga,
            at=now,
            from_status=saga.status,
            from_step=saga.current_step,
            event=STEP_RETRIED,
            reason=f"re-sent {command.value}",
            actor=actor,
        )
    SAGA_OPERATOR_ACTIONS.labels("retry_step").inc()
    log.info("saga.step_retried", saga_id=str(saga_id), actor=actor, command=command.value)
    return True


def saga_force_compensation(*, saga_id: uuid.UUID, actor: str, reason: str = "") -> bool:
    """Abandon an in-progress saga's forward step and compensate, as its deadline would.

    Returns False, changing nothing, when the saga is not in a forward step.

    Raises SagaNotFound.
    """
    return _operator_event(
        saga_id=saga_id, actor=actor, event=SagaEvent.COMPENSATION_FORCED, reason=reason or "compensation forced"
    )


def saga_mark_resolved(*, saga_id: uuid.UUID, actor: str, reason: str = "") -> bool:
    """Close a FAILED saga that a person has dealt with (status RESOLVED; the order stays FAILED).

    Returns False, changing nothing, when the saga is not FAILED.

    Raises SagaNotFound.
    """
    return _operator_event(
        saga_id=saga_id, actor=actor, event=SagaEvent.RESOLVED_BY_OPERATOR, reason=reason or "resolved by hand"
    )


def _operator_event(*, saga_id: uuid.UUID, actor: str, event: SagaEvent, reason: str) -> bool:
    with transaction.atomic(using=DATABASE, durable=True):
        saga = _saga_for_operator(saga_id)
        transition = saga_transition(status=saga.status, step=saga.current_step, event=event)
        if transition is None:
            return False
        order = Order.objects.get(pk=saga.order_id)
        _advance(saga, order, transition, event=event, now=timezone.now(), reason=reason, actor=actor)
    SAGA_OPERATOR_ACTIONS.labels(event.value.lower()).inc()
    log.info("saga.operator_action", saga_id=str(saga_id), actor=actor, saga_event=event.value)
    return True


def _saga_for_operator(saga_id: uuid.UUID) -> SagaState:
    saga = SagaState.objects.select_for_update().filter(saga_id=saga_id).first()
    if saga is None:
        raise SagaNotFound(saga_id)
    return saga


# --- helpers ------------------------------------------------------------------------------


def _deadline(step: str, now: datetime) -> datetime | None:
    seconds = settings.SAGA_STEP_DEADLINES.get(step)
    return None if seconds is None else now + timedelta(seconds=seconds)


def _ignored(reason: str) -> str:
    return f"ignored: the saga had moved on{f' ({reason})' if reason else ''}"[:255]


def _record(
    saga: SagaState,
    *,
    at: datetime,
    from_status: str,
    from_step: str,
    event: str,
    message_id: uuid.UUID | None = None,
    reason: str = "",
    actor: str = "",
) -> None:
    # In a consumer's batch (sql_batch), the batch's history rows go in one INSERT at its end.
    sql_insert_later(
        using=DATABASE,
        model=SagaHistory,
        values={
            "saga": saga.pk,
            "at": at,
            "from_status": from_status,
            "from_step": from_step,
            "to_status": saga.status,
            "to_step": saga.current_step,
            "event": str(event),
            "message_id": message_id,
            "reason": reason[:255],
            "actor": actor[:150],
        },
    )


def _datetime_param(model: type[Order | SagaState], field: str, value: datetime | None):
    return sql_param(using=DATABASE, model=model, field=field, value=value)


def _command(command: SagaCommand, saga: SagaState, order: Order):
    ids = {"saga_id": saga.saga_id, "order_id": order.pk}
    stock = {"product_id": order.product_id, "quantity": order.quantity}
    if command is SagaCommand.RESERVE_INVENTORY:
        return ReserveInventory(**ids, **stock)
    if command is SagaCommand.RELEASE_INVENTORY:
        return ReleaseInventory(**ids, **stock)
    if command is SagaCommand.COMMIT_INVENTORY:
        return CommitInventory(**ids, **stock)
    if command is SagaCommand.REFUND_PAYMENT:
        return RefundPayment(**ids, amount=order.total_amount)
    return ProcessPayment(**ids, amount=order.total_amount)
