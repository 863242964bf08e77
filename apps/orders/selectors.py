"""Reads of the orders app."""

import functools
import operator

from django.db import models
from django.db.models import BooleanField, Case, CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Now

from apps.orders.models import Order, OrderStatus, SagaHistory, SagaState, SagaStatus, SagaStep, SagaType
from apps.orders.sagas import ACTIVE_STATUSES, MACHINES, machine_for

ACTIVE = Q(status__in=[status.value for status in ACTIVE_STATUSES])

# Active and past its step's deadline: a forward step the deadline job has not
# reached yet (beat down?), or a compensation that is not getting an answer.
STUCK = ACTIVE & Q(deadline_at__lt=Now())

# FAILED where the saga stopped short: a compensation failed, or a step past the
# point of no return did (a refund the gateway kept declining). Each definition
# says where (SagaMachine.stopped); a refused reservation is not one of them.
STOPPED = functools.reduce(
    operator.or_,
    (
        Q(
            saga_type=machine.saga_type,
            status=position.status,
            current_step=position.step,
            cancelling=position.cancelling,
        )
        for machine in MACHINES.values()
        for position in machine.stopped
    ),
)

# Active, and its step's action was already refused at least once: only an action
# that may try again (the refund, REFUND_ATTEMPTS) stays in its step after a refusal.
REFUND_FAILING = ACTIVE & Q(step_attempts__gt=0)

# What a support person must look at, in one place: the list filter, the badge and the banner read it.
NEEDS_PERSON = STOPPED | STUCK | REFUND_FAILING


class Triage(models.TextChoices):
    """Where a saga stands for a support person: the first three need one, the rest are business outcomes."""

    FAILED = "failed", "Failed: stopped short, settle it by hand"
    STUCK = "stuck", "Stuck past its step deadline"
    REFUND_FAILING = "refund_failing", "Refund failing: declined, being tried again"
    IN_FLIGHT = "in_flight", "In flight"
    COMPLETED = "completed", "Completed"
    OUT_OF_STOCK = "out_of_stock", "Out of stock (reservation refused)"
    PAYMENT_DECLINED = "payment_declined", "Payment declined"
    CANCELLED = "cancelled", "Cancelled by the customer"
    UNDONE = "undone", "Undone: timed out or compensation forced"
    RESOLVED = "resolved", "Resolved by a person"


NEEDS_PERSON_TRIAGE = (Triage.FAILED, Triage.STUCK, Triage.REFUND_FAILING)

# Saga types whose completion is a cancellation (the order ends CANCELLED).
_CANCELLING_TYPES = [
    machine.saga_type for machine in MACHINES.values() if machine.definition.order.completed == OrderStatus.CANCELLED
]
# The refusal of a payment, as the step that charges records it.
_PAYMENT_REFUSALS = sorted(
    {
        action.failed
        for machine in MACHINES.values()
        for (_, step), action in machine.actions.items()
        if step == SagaStep.PROCESSING_PAYMENT
    }
)


def order_get(*, order_id: int, customer_id: int | None = None) -> Order | None:
    """The order with its lines and ``placement_saga_id``; with ``customer_id``, only if it is that customer's."""
    orders = _with_placement_saga(Order.objects.filter(pk=order_id).prefetch_related("lines"))
    if customer_id is not None:
        orders = orders.filter(user_id=customer_id)
    return orders.first()


def order_list(*, user_id: int | None = None, customer_id: int | None = None) -> QuerySet[Order]:
    """Orders with their lines and ``placement_saga_id``, newest first.

    ``user_id``'s (a filter), and only ``customer_id``'s (their view).
    """
    orders = _with_placement_saga(Order.objects.prefetch_related("lines"))
    if user_id is not None:
        orders = orders.filter(user_id=user_id)
    if customer_id is not None:
        orders = orders.filter(user_id=customer_id)
    return orders.order_by("-id")


def _with_placement_saga(orders: QuerySet[Order]) -> QuerySet[Order]:
    """``orders`` annotated with ``placement_saga_id``: the saga that placing the order started (None if none)."""
    placement = SagaState.objects.filter(order_id=OuterRef("pk"), saga_type=SagaType.PLACEMENT).order_by("id")
    return orders.annotate(placement_saga_id=Subquery(placement.values("saga_id")[:1]))


def saga_with_progress(sagas: QuerySet[SagaState]) -> QuerySet[SagaState]:
    """``sagas`` annotated with ``is_stuck``."""
    return sagas.annotate(
        is_stuck=Case(When(STUCK, then=Value(True)), default=Value(False), output_field=BooleanField())
    )


def saga_with_triage(sagas: QuerySet[SagaState]) -> QuerySet[SagaState]:
    """``sagas`` annotated with ``triage`` (a Triage value), first match wins in the order of Triage."""
    # Taken, not noted as stale: a late refusal after a deadline is recorded with from == to.
    declined = SagaHistory.objects.filter(
        saga=OuterRef("pk"), event__in=_PAYMENT_REFUSALS, from_status=SagaStatus.IN_PROGRESS
    )
    return sagas.annotate(
        triage=Case(
            When(STOPPED, then=Value(Triage.FAILED.value)),
            When(STUCK, then=Value(Triage.STUCK.value)),
            When(REFUND_FAILING, then=Value(Triage.REFUND_FAILING.value)),
            When(ACTIVE, then=Value(Triage.IN_FLIGHT.value)),
            When(status=SagaStatus.RESOLVED, then=Value(Triage.RESOLVED.value)),
            When(status=SagaStatus.COMPLETED, saga_type__in=_CANCELLING_TYPES, then=Value(Triage.CANCELLED.value)),
            When(status=SagaStatus.COMPLETED, then=Value(Triage.COMPLETED.value)),
            When(status=SagaStatus.COMPENSATED, cancelling=True, then=Value(Triage.CANCELLED.value)),
            When(status=SagaStatus.FAILED, then=Value(Triage.OUT_OF_STOCK.value)),
            When(Exists(declined), status=SagaStatus.COMPENSATED, then=Value(Triage.PAYMENT_DECLINED.value)),
            default=Value(Triage.UNDONE.value),
            output_field=CharField(),
        )
    )


def saga_triaged(sagas: QuerySet[SagaState], *, triage: str) -> QuerySet[SagaState]:
    """``sagas`` with ``triage`` that are in that Triage, or, for "needs_person", in any of NEEDS_PERSON_TRIAGE."""
    if triage == "needs_person":
        return saga_with_triage(sagas).filter(NEEDS_PERSON)
    return saga_with_triage(sagas).filter(triage=triage)


def saga_get(*, saga_id) -> SagaState | None:
    return saga_with_progress(SagaState.objects.filter(saga_id=saga_id)).first()


def saga_list(*, stuck: bool | None = None, order_id: int | None = None) -> QuerySet[SagaState]:
    """Sagas with ``is_stuck``, newest first: ``order_id``'s, and only (not) stuck ones."""
    sagas = SagaState.objects.all()
    if order_id is not None:
        sagas = sagas.filter(order_id=order_id)
    if stuck is not None:
        sagas = sagas.filter(STUCK) if stuck else sagas.exclude(STUCK)
    return saga_with_progress(sagas).order_by("-id")


def saga_history(*, saga: SagaState) -> list[SagaHistory]:
    """The saga's timeline, oldest first: its start, then every entry stored since.

    A placement's start is not stored (one INSERT fewer per order): every saga
    of a type starts from nothing into the same status and step, at the saga
    row's ``created_at``, so its entry is built from that row. A saga whose
    start was stored (a cancellation keeps the customer's reason; earlier
    versions stored placements) shows the stored entry instead.
    """
    entries = list(SagaHistory.objects.filter(saga=saga).order_by("id"))
    if entries and not entries[0].from_status:
        return entries
    return [saga_start_entry(saga=saga), *entries]


def saga_start_entry(*, saga: SagaState) -> SagaHistory:
    """The first entry of ``saga``'s timeline (not saved)."""
    machine = machine_for(saga.saga_type)
    return SagaHistory(
        saga=saga,
        at=saga.created_at,
        from_status="",
        from_step="",
        to_status=machine.start.status,
        to_step=machine.start.step,
        event=machine.definition.start_event,
    )


def order_sagas(*, order_id: int) -> list[SagaState]:
    """Every saga of the order, oldest first."""
    return list(saga_with_progress(SagaState.objects.filter(order_id=order_id)).order_by("id"))


def saga_needs_person_count() -> int:
    return SagaState.objects.filter(NEEDS_PERSON).count()
