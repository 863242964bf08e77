"""Reads of the orders app."""

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.db.models.functions import Now

from apps.orders.models import Order, SagaHistory, SagaState
from apps.orders.saga import ACTIVE_STATUSES

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


def saga_history(*, saga: SagaState) -> QuerySet[SagaHistory]:
    """The saga's timeline, oldest first."""
    return SagaHistory.objects.filter(saga=saga).order_by("id")


def saga_stuck_count() -> int:
    return SagaState.objects.filter(STUCK).count()
