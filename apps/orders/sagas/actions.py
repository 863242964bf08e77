"""Actions more than one saga takes: each is one value, so both sagas mean the same by it."""

from apps.messaging.contracts import PaymentRefunded, RefundPayment
from apps.orders.models import SagaStep
from apps.orders.sagas import commands
from apps.orders.sagas.engine import Action

# A refund the gateway declines is tried this often (recovery re-sends it in between), then a person looks.
REFUND_ATTEMPTS = 5

# The placement's compensation of its charge, and the cancellation's first step.
REFUND = Action(
    step=SagaStep.REFUNDING_PAYMENT,
    command=RefundPayment,
    build=commands.refund_payment,
    reply=PaymentRefunded,
    succeeded="PAYMENT_REFUNDED",
    failed="PAYMENT_REFUND_FAILED",
    deadline=120.0,
    attempts=REFUND_ATTEMPTS,
)
