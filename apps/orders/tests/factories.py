import uuid
from decimal import Decimal

import factory

from apps.orders.models import Order, OrderLine, OrderStatus, SagaState, SagaStatus, SagaStep


class OrderFactory(factory.django.DjangoModelFactory):
    """An order with one line (``product_id``, ``quantity``), or ``lines`` of (product_id, quantity[, unit_price])."""

    class Meta:
        model = Order

    user_id = factory.Sequence(lambda n: 1000 + n)
    product_id = factory.Sequence(lambda n: 2000 + n)
    quantity = 1
    lines = None
    total_amount = Decimal("10.00")
    status = OrderStatus.PENDING

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        product_id, quantity, lines = kwargs.pop("product_id"), kwargs.pop("quantity"), kwargs.pop("lines")
        order = super()._create(model_class, *args, **kwargs)
        for line in lines or [(product_id, quantity)]:
            unit_price = line[2] if len(line) > 2 else None
            OrderLine.objects.create(order=order, product_id=line[0], quantity=line[1], unit_price=unit_price)
        return order


def one_line(arguments: dict) -> dict:
    """order_place's arguments from the seed's one-product shape: product_id, quantity and a staff-set total_amount."""
    arguments = dict(arguments)
    product_id, quantity = arguments.pop("product_id", None), arguments.pop("quantity", None)
    if product_id is not None:
        arguments["lines"] = [(product_id, quantity)]
    if "total_amount" in arguments:
        arguments["total_override"] = arguments.pop("total_amount")
    return arguments


class SagaStateFactory(factory.django.DjangoModelFactory):
    """A saga with its order; pass ``order=`` to attach it to an existing one."""

    class Meta:
        model = SagaState
        exclude = ("order",)

    order = factory.SubFactory(OrderFactory)
    order_id = factory.SelfAttribute("order.pk")
    saga_id = factory.LazyFunction(uuid.uuid4)
    status = SagaStatus.IN_PROGRESS
    current_step = SagaStep.RESERVING_INVENTORY
    trace_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
