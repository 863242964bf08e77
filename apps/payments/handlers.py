"""Payments' command: charge the order, reply through the outbox."""

from apps.messaging.consumer import HandlerContext
from apps.messaging.contracts import PaymentProcessed, ProcessPayment
from apps.messaging.outbox import outbox_enqueue
from apps.payments.models import PaymentStatus
from apps.payments.services import DATABASE, payment_process


def on_process_payment(message: ProcessPayment, context: HandlerContext) -> None:
    payment = payment_process(order_id=message.order_id, saga_id=message.saga_id, amount=message.amount)
    reply = PaymentProcessed(
        saga_id=message.saga_id,
        order_id=message.order_id,
        transaction_id=payment.transaction_id,
        success=payment.status == PaymentStatus.SUCCESS,
        reason=payment.failure_reason,
    )
    outbox_enqueue(using=DATABASE, message=reply, trace_id=context.trace_id)


HANDLERS = {ProcessPayment.routing_key: on_process_payment}
