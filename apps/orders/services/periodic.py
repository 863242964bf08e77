"""The jobs beat runs: deadlines (give up on a step that did not answer) and recovery (re-send an idle step)."""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.common.progress import OnProgress, no_progress
from apps.messaging.outbox import outbox_has_pending
from apps.orders.metrics import SAGA_DEADLINES_PASSED, SAGA_RESENT
from apps.orders.models import Order, SagaState, SagaStatus
from apps.orders.sagas import ACTIVE_STATUSES, DEADLINE_PASSED, MACHINES, machine_for
from apps.orders.services.runtime import StepContext, saga_advance, saga_send, saga_transition_for
from apps.orders.store import DATABASE

log = structlog.get_logger("orders.saga")

ACTIVE_STATUS_VALUES = sorted(status.value for status in ACTIVE_STATUSES)


def _with_deadline_transition() -> Q:
    """The (type, step) pairs whose forward step gives up at its deadline; other steps are only re-sent."""
    condition = Q(pk__in=[])
    for saga_type, machine in MACHINES.items():
        steps = sorted({step for (status, step, _mode, event) in machine.transitions if event == DEADLINE_PASSED})
        if steps:
            condition |= Q(saga_type=saga_type, current_step__in=steps)
    return condition


def saga_expire_deadlines(*, limit: int = 500, on_progress: OnProgress = no_progress) -> int:
    """Compensate every saga whose compensatable forward step has passed its deadline; returns how many.

    Reserving is abandoned by releasing (which also refuses a late
    reservation); payment by refunding (which also refuses a late charge),
    then releasing. Steps with no deadline transition (compensations, the
    cancellation's steps) are re-sent by recovery and flagged stuck in the
    admin. Each saga is locked with SKIP LOCKED, so concurrent checks and the
    orchestrator never double up. ``on_progress`` hears (sagas looked at, candidates) as it goes.
    """
    now = timezone.now()
    candidates = list(
        SagaState.objects.filter(_with_deadline_transition(), status=SagaStatus.IN_PROGRESS, deadline_at__lte=now)
        .order_by("deadline_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for done, pk in enumerate(candidates):
        on_progress(done, len(candidates))
        with transaction.atomic(using=DATABASE, durable=True):
            saga = (
                SagaState.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=SagaStatus.IN_PROGRESS, deadline_at__lte=now)
                .first()
            )
            if saga is None:
                continue
            step = saga.current_step
            seconds = machine_for(saga.saga_type).deadline(step, settings.SAGA_STEP_DEADLINES)
            context = StepContext(
                saga,
                Order.objects.get(pk=saga.order_id),
                DEADLINE_PASSED,
                timezone.now(),
                reason=f"{step} got no answer within {seconds:g}s",
            )
            transition = saga_transition_for(context)
            if transition is None:
                continue
            saga_advance(context, transition)
        SAGA_DEADLINES_PASSED.labels(step).inc()
        log.warning("saga.deadline_passed", saga_id=str(saga.saga_id), step=step)
        expired += 1
    on_progress(len(candidates), len(candidates))
    return expired


def saga_recover(*, older_than: timedelta, limit: int = 500, on_progress: OnProgress = no_progress) -> int:
    """Re-send the current step's command of every active saga idle for ``older_than``.

    Each re-send gets a fresh message_id (the consumers answer it from their
    logs if they already acted). A saga with a command still in the outbox is
    left alone, and a saga another recovery holds is skipped. Returns how many
    commands were re-sent. Re-sends are not written to the saga's history:
    they change nothing, and a long outage would flood it. ``on_progress`` hears (sagas looked at,
    candidates) as it goes.
    """
    cutoff = timezone.now() - older_than
    candidates = list(
        SagaState.objects.filter(status__in=ACTIVE_STATUS_VALUES, updated_at__lte=cutoff)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    resent = 0
    for done, pk in enumerate(candidates):
        on_progress(done, len(candidates))
        with transaction.atomic(using=DATABASE, durable=True):
            saga = (
                SagaState.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, updated_at__lte=cutoff, status__in=ACTIVE_STATUS_VALUES)
                .first()
            )
            if saga is None or outbox_has_pending(using=DATABASE, saga_id=saga.saga_id):
                continue
            action = machine_for(saga.saga_type).step_action(status=saga.status, step=saga.current_step)
            if action is None:
                log.error("saga.no_action", saga_id=str(saga.saga_id), status=saga.status, step=saga.current_step)
                continue
            saga_send(saga, Order.objects.get(pk=saga.order_id), (action,))
            saga.save(update_fields=["updated_at"])
        SAGA_RESENT.labels(saga.current_step).inc()
        log.info(
            "saga.recovery_resent",
            saga_id=str(saga.saga_id),
            step=saga.current_step,
            command=action.command.__name__,
        )
        resent += 1
    on_progress(len(candidates), len(candidates))
    return resent
