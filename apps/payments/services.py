"""Writes of the payments app: charges and refunds, each at most once per order."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.sql import sql_insert, sql_rows, sql_savepoint
from apps.payments.gateway import gateway_charge, gateway_refund
from apps.payments.models import Payment, PaymentStatus

DATABASE = "payments"


class PaymentMismatch(Exception):
    """A command about an order whose payment another saga made, or for another amount: it is never acted on."""


def _matching(payment: Payment, *, saga_id, amount: Decimal) -> Payment:
    # Rows from before payments recorded their saga match on the amount alone.
    if payment.saga_id is not None and payment.saga_id != saga_id:
        raise PaymentMismatch(f"order {payment.order_id}'s payment was made by saga {payment.saga_id}, not {saga_id}")
    if payment.amount != amount:
        raise PaymentMismatch(f"order {payment.order_id}'s payment is for {payment.amount}, not {amount}")
    return payment


def payment_process(*, order_id: int, saga_id, amount: Decimal, user_id: int | None = None) -> Payment:
    """Charge an order once; runs in the payments consumer's transaction.

    A repeated command gets the first payment back: the unique order_id refuses
    a second row, even from a concurrent twin. A charge arriving after the
    order's refund finds the refund's VOIDED row and is refused. A new payment
    comes back without its database timestamps.

    Raises PaymentMismatch when the order's payment belongs to another saga or
    is for another amount.
    """
    # A lean probe first: repeats are rare, and only then is the ORM's full row worth composing.
    if sql_rows(using=DATABASE, sql="SELECT 1 FROM payments WHERE order_id = %s", params=[order_id]):
        return _matching(Payment.objects.get(order_id=order_id), saga_id=saga_id, amount=amount)
    charge = gateway_charge(order_id=order_id, amount=amount, failure_rate=settings.PAYMENT_FAILURE_RATE)
    payment = Payment(
        order_id=order_id,
        user_id=user_id,
        saga_id=saga_id,
        amount=amount,
        status=PaymentStatus.SUCCESS if charge.success else PaymentStatus.FAILED,
        transaction_id=charge.transaction_id,
        failure_reason=charge.reason,
    )
    try:
        # In a consumer's batch, no savepoint: a twin's row fails the batch, handled again message by message.
        with sql_savepoint(using=DATABASE):
            payment.pk = sql_insert(
                using=DATABASE,
                model=Payment,
                values={field: getattr(payment, field) for field in NEW_PAYMENT_FIELDS},
            )
    except IntegrityError:
        return _matching(Payment.objects.get(order_id=order_id), saga_id=saga_id, amount=amount)
    return payment


NEW_PAYMENT_FIELDS = ("order_id", "user_id", "saga_id", "amount", "status", "transaction_id", "failure_reason")


def payment_refund(*, order_id: int, saga_id, amount: Decimal) -> Payment:
    """Refund the payment saga ``saga_id`` made for the order, once; runs in the payments consumer's transaction.

    A SUCCESS payment becomes REFUNDED. With no payment yet, a VOIDED row is
    left behind that refuses any later charge (a late ``payment.process``). A
    FAILED, REFUNDED or VOIDED payment is answered as it is. Returns the payment
    row; a refund the gateway declined leaves it SUCCESS, with ``refund_declined``
    set to the gateway's reason (the saga tries again).

    Raises PaymentMismatch when the order's payment belongs to another saga or
    is for another amount: a refund is found by saga and payment, not by order alone.
    """
    payment = Payment.objects.select_for_update().filter(order_id=order_id).first()
    if payment is None:
        void = Payment(
            order_id=order_id,
            saga_id=saga_id,
            amount=amount,
            status=PaymentStatus.VOIDED,
            transaction_id=f"void_{uuid.uuid4().hex}",
            failure_reason="cancelled before any charge",
        )
        try:
            with transaction.atomic(using=DATABASE):
                void.save(using=DATABASE)
                return void
        except IntegrityError:
            # A charge committed meanwhile: refund it.
            payment = Payment.objects.select_for_update().get(order_id=order_id)
    _matching(payment, saga_id=saga_id, amount=amount)
    if payment.status != PaymentStatus.SUCCESS:
        return payment
    refund = gateway_refund(
        transaction_id=payment.transaction_id,
        amount=payment.amount,
        failure_rate=settings.PAYMENT_REFUND_FAILURE_RATE,
    )
    if not refund.success:
        payment.refund_declined = refund.reason
        return payment
    payment.status = PaymentStatus.REFUNDED
    payment.refund_id, payment.refunded_at = refund.transaction_id, timezone.now()
    payment.save(update_fields=["status", "refund_id", "refunded_at", "updated_at"])
    return payment
