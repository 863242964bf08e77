import uuid
from decimal import Decimal

import factory

from apps.orders.models import Order, OrderStatus, SagaState, SagaStatus, SagaStep


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    user_id = factory.Sequence(lambda n: 1000 + n)
    product_id = factory.Sequence(lambda n: 2000 + n)
    quantity = 1
    total_amount = Decimal("10.00")
    status = OrderStatus.PENDING


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
