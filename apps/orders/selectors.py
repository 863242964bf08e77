"""Reads of the orders app."""

from django.db.models import BooleanField, Case, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Now

from apps.orders.models import Order, SagaHistory, SagaState, SagaType
from apps.orders.sagas import ACTIVE_STATUSES, machine_for

# Active and past its step's deadline: a forward step the deadline job has not
# reached yet (beat down?), or a compensation that is not getting an answer.
STUCK = Q(status__in=[status.value for status in ACTIVE_STATUSES], deadline_at__lt=Now())


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


def saga_stuck_count() -> int:
    return SagaState.objects.filter(STUCK).count()
