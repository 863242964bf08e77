"""Payments' commands: charge or refund the order, reply through the outbox."""

from apps.messaging.consumer import HandlerContext, Unprocessable
from apps.messaging.contracts import PaymentProcessed, PaymentRefunded, ProcessPayment, RefundPayment
from apps.messaging.outbox import outbox_enqueue
from apps.payments.models import PaymentStatus
from apps.payments.services import DATABASE, PaymentMismatch, payment_process, payment_refund


def on_process_payment(message: ProcessPayment, context: HandlerContext) -> None:
    try:
        payment = payment_process(
            order_id=message.order_id, saga_id=message.saga_id, amount=message.amount, user_id=message.user_id
        )
    except PaymentMismatch as exc:
        raise Unprocessable(str(exc)) from exc
    reply = PaymentProcessed(
        saga_id=message.saga_id,
        order_id=message.order_id,
        transaction_id=payment.transaction_id,
        success=payment.status == PaymentStatus.SUCCESS,
        reason=_charge_reason(payment),
    )
    outbox_enqueue(using=DATABASE, message=reply)


def on_refund_payment(message: RefundPayment, context: HandlerContext) -> None:
    try:
        payment = payment_refund(order_id=message.order_id, saga_id=message.charged_by, amount=message.amount)
    except PaymentMismatch as exc:
        raise Unprocessable(str(exc)) from exc
    declined = getattr(payment, "refund_declined", "")
    reply = PaymentRefunded(
        saga_id=message.saga_id,
        order_id=message.order_id,
        transaction_id=payment.refund_id,
        # Nothing charged (FAILED, VOIDED) is as good as refunded for the saga.
        success=not declined,
        reason=declined or ("" if payment.status == PaymentStatus.REFUNDED else "nothing was charged"),
    )
    outbox_enqueue(using=DATABASE, message=reply)


def _charge_reason(payment) -> str:
    if payment.status == PaymentStatus.REFUNDED:
        return "payment refunded"
    if payment.status == PaymentStatus.VOIDED:
        return "payment cancelled before any charge"
    return payment.failure_reason


HANDLERS = {ProcessPayment.routing_key: on_process_payment, RefundPayment.routing_key: on_refund_payment}
