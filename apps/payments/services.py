"""Writes of the payments app."""

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.payments.gateway import gateway_charge
from apps.payments.models import Payment, PaymentStatus

DATABASE = "payments"


def payment_process(*, order_id: int, saga_id, amount: Decimal) -> Payment:
    """Charge an order once; runs in the payments consumer's transaction.

    A repeated command gets the first payment back: the unique order_id refuses
    a second row, even from a concurrent twin.
    """
    earlier = Payment.objects.filter(order_id=order_id).first()
    if earlier is not None:
        return earlier
    charge = gateway_charge(order_id=order_id, amount=amount, failure_rate=settings.PAYMENT_FAILURE_RATE)
    payment = Payment(
        order_id=order_id,
        saga_id=saga_id,
        amount=amount,
        status=PaymentStatus.SUCCESS if charge.success else PaymentStatus.FAILED,
        transaction_id=charge.transaction_id,
        failure_reason=charge.reason,
    )
    try:
        with transaction.atomic(using=DATABASE):
            payment.save(using=DATABASE)
    except IntegrityError:
        return Payment.objects.get(order_id=order_id)
    return payment
