"""Reads of the orders app."""

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.db.models.functions import Now

from apps.orders.models import Order, SagaHistory, SagaState
from apps.orders.saga import ACTIVE_STATUSES, ORDER_PLACED, START

# Active and past its step's deadline: a forward step the deadline job has not
# reached yet (beat down?), or a compensation that is not getting an answer.
STUCK = Q(status__in=[status.value for status in ACTIVE_STATUSES], deadline_at__lt=Now())


def order_get(*, order_id: int) -> Order | None:
    return Order.objects.filter(pk=order_id).first()


def order_list(*, user_id: int | None = None) -> QuerySet[Order]:
    orders = Order.objects.all()
    if user_id is not None:
        orders = orders.filter(user_id=user_id)
    return orders.order_by("-id")


def saga_with_progress(sagas: QuerySet[SagaState]) -> QuerySet[SagaState]:
    """``sagas`` annotated with ``is_stuck``."""
    return sagas.annotate(
        is_stuck=Case(When(STUCK, then=Value(True)), default=Value(False), output_field=BooleanField())
    )


def saga_get(*, saga_id) -> SagaState | None:
    return saga_with_progress(SagaState.objects.filter(saga_id=saga_id)).first()


def saga_list(*, status: str | None = None, stuck: bool | None = None) -> QuerySet[SagaState]:
    sagas = SagaState.objects.all()
    if status:
        sagas = sagas.filter(status=status)
    if stuck is not None:
        sagas = sagas.filter(STUCK) if stuck else sagas.exclude(STUCK)
    return saga_with_progress(sagas).order_by("-id")


def saga_history(*, saga: SagaState) -> list[SagaHistory]:
    """The saga's timeline, oldest first: its placement, then every entry stored since.

    The placement is not stored (one INSERT fewer per order): every saga starts
    from nothing into the same status and step, at the saga row's ``created_at``,
    so its entry is built from that row. A saga whose placement was stored (by
    an earlier version) shows the stored entry instead.
    """
    entries = list(SagaHistory.objects.filter(saga=saga).order_by("id"))
    if entries and entries[0].event == ORDER_PLACED:
        return entries
    return [saga_placement(saga=saga), *entries]


def saga_placement(*, saga: SagaState) -> SagaHistory:
    """The first entry of ``saga``'s timeline (not saved)."""
    return SagaHistory(
        saga=saga,
        at=saga.created_at,
        from_status="",
        from_step="",
        to_status=START.status,
        to_step=START.step,
        event=ORDER_PLACED,
    )


def saga_stuck_count() -> int:
    return SagaState.objects.filter(STUCK).count()
