"""Reads of the orders app."""

from django.db.models import QuerySet

from apps.orders.models import Order, SagaState


def order_get(*, order_id: int) -> Order | None:
    return Order.objects.filter(pk=order_id).first()


def order_list(*, user_id: int | None = None) -> QuerySet[Order]:
    orders = Order.objects.all()
    if user_id is not None:
        orders = orders.filter(user_id=user_id)
    return orders.order_by("-id")


def saga_get(*, saga_id) -> SagaState | None:
    return SagaState.objects.filter(saga_id=saga_id).first()


def saga_list(*, status: str | None = None) -> QuerySet[SagaState]:
    sagas = SagaState.objects.all()
    if status:
        sagas = sagas.filter(status=status)
    return sagas.order_by("-id")
