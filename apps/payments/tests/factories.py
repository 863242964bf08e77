import uuid
from decimal import Decimal

import factory

from apps.payments.models import Payment, PaymentStatus


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order_id = factory.Sequence(lambda n: 1 + n)
    saga_id = factory.LazyFunction(uuid.uuid4)
    amount = Decimal("10.00")
    status = PaymentStatus.SUCCESS
    transaction_id = factory.Sequence(lambda n: f"txn-{n:08d}")
