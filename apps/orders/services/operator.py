"""Operator actions from the admin: retry a step, force compensation, mark a FAILED saga resolved.

Each works on every saga type, through its definition, and is written to the
saga's timeline with the operator's name and note.
"""

import uuid
from datetime import timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from apps.messaging.outbox import outbox_has_pending
from apps.orders.metrics import SAGA_OPERATOR_ACTIONS
from apps.orders.models import Order, SagaHistory, SagaState
from apps.orders.sagas import COMPENSATION_FORCED, RESOLVED_BY_OPERATOR, machine_for
from apps.orders.services.runtime import (
    StepContext,
    saga_advance,
    saga_deadline,
    saga_record,
    saga_send,
    saga_transition_for,
)
from apps.orders.store import DATABASE

log = structlog.get_logger("orders.saga")

# A timeline entry that is not an event of the state machine.
STEP_RETRIED = "STEP_RETRIED"
# A second retry of the same saga this soon after the first is a double click, not a decision.
RETRY_DOUBLE_CLICK_WINDOW = timedelta(seconds=10)


class SagaNotFound(Exception):
    """No saga with that id."""


def saga_retry_step(*, saga_id: uuid.UUID, actor: str, note: str = "") -> bool:
    """Re-send the current step's command of an active saga and give the step a fresh deadline.

    Returns False, changing nothing, when the saga is not active, its command
    still waits in the outbox, or it was retried less than
    RETRY_DOUBLE_CLICK_WINDOW ago (so a second click does not send it twice).

    Raises SagaNotFound.
    """
    with transaction.atomic(using=DATABASE, durable=True):
        saga = _saga_for_operator(saga_id)
        machine = machine_for(saga.saga_type)
        action = machine.step_action(status=saga.status, step=saga.current_step)
        now = timezone.now()
        if (
            action is None
            or outbox_has_pending(using=DATABASE, saga_id=saga.saga_id)
            or SagaHistory.objects.filter(
                saga=saga, event=STEP_RETRIED, at__gte=now - RETRY_DOUBLE_CLICK_WINDOW
            ).exists()
        ):
            return False
        order = Order.objects.get(pk=saga.order_id)
        saga_send(saga, order, (action,))
        saga.deadline_at = saga_deadline(machine, saga.current_step, now)
        saga.save(update_fields=["deadline_at", "updated_at"])
        reason = f"re-sent {action.command.__name__}"
        context = StepContext(saga, order, STEP_RETRIED, now, reason=reason, actor=actor, note=note)
        saga_record(context, from_status=saga.status, from_step=saga.current_step)
    SAGA_OPERATOR_ACTIONS.labels("retry_step").inc()
    log.info("saga.step_retried", saga_id=str(saga_id), actor=actor, command=action.command.__name__)
    return True


def saga_force_compensation(*, saga_id: uuid.UUID, actor: str, reason: str = "", note: str = "") -> bool:
    """Abandon an in-progress saga's compensatable step and compensate, as its deadline would.

    ``note`` (the operator's words) goes into the timeline next to ``actor``.
    Returns False, changing nothing, when the saga is not in such a step.

    Raises SagaNotFound.
    """
    return _operator_event(
        saga_id=saga_id, actor=actor, event=COMPENSATION_FORCED, reason=reason or "compensation forced", note=note
    )


def saga_mark_resolved(*, saga_id: uuid.UUID, actor: str, reason: str = "", note: str = "") -> bool:
    """Close a FAILED saga that waits for a person and was dealt with (RESOLVED; the order as its definition says).

    ``note`` (what the operator did) goes into the timeline next to ``actor``.
    Returns False, changing nothing, when the saga is not FAILED where a person is needed
    (a refused reservation is an outcome, not something to resolve).

    Raises SagaNotFound.
    """
    return _operator_event(
        saga_id=saga_id, actor=actor, event=RESOLVED_BY_OPERATOR, reason=reason or "resolved by hand", note=note
    )


def saga_operator_actions(saga: SagaState) -> list[str]:
    """The operator actions that apply to ``saga`` as it is now (what the admin offers)."""
    machine = machine_for(saga.saga_type)
    available = []
    if machine.step_action(status=saga.status, step=saga.current_step) is not None:
        available.append("retry_current_step")
    for event, name in ((COMPENSATION_FORCED, "force_compensation"), (RESOLVED_BY_OPERATOR, "mark_resolved")):
        transition = machine.transition(
            status=saga.status, step=saga.current_step, cancelling=saga.cancelling, event=event
        )
        if transition is not None:
            available.append(name)
    return available


def _operator_event(*, saga_id: uuid.UUID, actor: str, event: str, reason: str, note: str) -> bool:
    with transaction.atomic(using=DATABASE, durable=True):
        saga = _saga_for_operator(saga_id)
        order = Order.objects.get(pk=saga.order_id)
        context = StepContext(saga, order, event, timezone.now(), reason=reason, actor=actor, note=note)
        transition = saga_transition_for(context)
        if transition is None:
            return False
        saga_advance(context, transition)
    SAGA_OPERATOR_ACTIONS.labels(event.lower()).inc()
    log.info("saga.operator_action", saga_id=str(saga_id), actor=actor, saga_event=event)
    return True


def _saga_for_operator(saga_id: uuid.UUID) -> SagaState:
    saga = SagaState.objects.select_for_update().filter(saga_id=saga_id).first()
    if saga is None:
        raise SagaNotFound(saga_id)
    return saga
