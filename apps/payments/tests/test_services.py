"""Payments' service and handler: charge an order once, reply with the outcome."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from apps.common.tests.tracing import CALLER_TRACEPARENT, continues, in_span
from apps.messaging.consumer import ConsumerSpec, HandlerContext, Outcome, handle_delivery
from apps.messaging.contracts import PaymentProcessed, ProcessPayment
from apps.messaging.models import InboxMessage, OutboxMessage
from apps.messaging.tests.signed import signed_delivery
from apps.payments.handlers import on_process_payment
from apps.payments.models import Payment, PaymentStatus
from apps.payments.services import payment_process

PAYMENTS_DB = ["payments"]
SAGA_ID = uuid.UUID("0e6a4c1d-3b7f-4d2e-8a95-6f1c2b3d4e57")


def process(*, order_id: int = 100, amount: Decimal = Decimal("19.99")) -> Payment:
    # The consumer's transaction, which the handler-called service expects to run in.
    with transaction.atomic(using="payments"):
        return payment_process(order_id=order_id, saga_id=SAGA_ID, amount=amount)


def handle(command: ProcessPayment) -> str:
    """Run the handler in the consumer's transaction and a span; return the span's traceparent."""
    context = HandlerContext(using="payments", message_id=uuid.uuid4(), routing_key=command.routing_key)
    with transaction.atomic(using="payments"), in_span() as handling:
        on_process_payment(command, context)
    return handling


def replies() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.using("payments").order_by("id"))


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_charge_that_never_fails_succeeds(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0

    payment = process(order_id=100, amount=Decimal("19.99"))

    stored = Payment.objects.get(order_id=100)
    assert (stored.status, stored.failure_reason) == (PaymentStatus.SUCCESS, "")
    assert (stored.saga_id, stored.amount) == (SAGA_ID, Decimal("19.99"))
    assert stored.transaction_id == payment.transaction_id
    assert stored.transaction_id.startswith("txn_")


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_charge_that_always_fails_is_declined(settings):
    settings.PAYMENT_FAILURE_RATE = 1.0

    payment = process(order_id=100)

    stored = Payment.objects.get(order_id=100)
    assert (stored.status, stored.failure_reason) == (PaymentStatus.FAILED, "payment declined")
    assert stored.transaction_id == payment.transaction_id


@pytest.mark.parametrize(("first_rate", "second_rate", "status"), [(0.0, 1.0, "SUCCESS"), (1.0, 0.0, "FAILED")])
@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_second_charge_of_the_same_order_returns_the_first_payment(settings, first_rate, second_rate, status):
    settings.PAYMENT_FAILURE_RATE = first_rate
    first = process(order_id=100)
    settings.PAYMENT_FAILURE_RATE = second_rate

    again = process(order_id=100)

    assert (again.pk, again.transaction_id, again.status) == (first.pk, first.transaction_id, status)
    assert Payment.objects.count() == 1


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_charges_of_different_orders_are_separate_payments(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0

    first = process(order_id=100)
    second = process(order_id=101)

    assert first.transaction_id != second.transaction_id
    assert Payment.objects.count() == 2


@pytest.mark.parametrize(
    ("rate", "success", "reason"), [(0.0, True, ""), (1.0, False, "payment declined")], ids=["paid", "declined"]
)
@pytest.mark.django_db(databases=["payments", "orders", "inventory"])
def test_on_process_payment_replies_once_with_the_outcome(settings, rate, success, reason):
    settings.PAYMENT_FAILURE_RATE = rate

    handling = handle(ProcessPayment(saga_id=SAGA_ID, order_id=100, amount=Decimal("19.99")))

    payment = Payment.objects.get(order_id=100)
    [row] = replies()
    assert (row.exchange, row.routing_key, row.message_type) == ("saga.events", "payment.processed", "PaymentProcessed")
    assert (row.saga_id, row.traceparent, row.dispatched_at) == (SAGA_ID, handling, None)
    assert PaymentProcessed.from_body(row.payload) == PaymentProcessed(
        saga_id=SAGA_ID, order_id=100, transaction_id=payment.transaction_id, success=success, reason=reason
    )
    assert not OutboxMessage.objects.using("orders").exists()
    assert not OutboxMessage.objects.using("inventory").exists()


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_on_process_payment_repeated_replies_with_the_first_payment(settings):
    command = ProcessPayment(saga_id=SAGA_ID, order_id=100, amount=Decimal("19.99"))
    settings.PAYMENT_FAILURE_RATE = 0.0
    handle(command)
    settings.PAYMENT_FAILURE_RATE = 1.0

    handle(command)

    original, again = replies()
    assert again.payload == original.payload
    assert again.message_id != original.message_id
    assert PaymentProcessed.from_body(again.payload).success is True
    assert Payment.objects.count() == 1


@pytest.fixture
def deliver():
    """Hand a delivery to the payments consumer, as its worker would."""
    spec = ConsumerSpec.from_settings("payments")

    def send(message, *, message_id: str | None = None):
        delivery = signed_delivery(
            routing_key=message.routing_key,
            body=message.to_body(),
            message_id=message_id,
            headers={"traceparent": CALLER_TRACEPARENT},
        )
        return handle_delivery(spec, delivery)

    return send


@pytest.mark.django_db(databases=PAYMENTS_DB, transaction=True)
def test_a_payment_delivery_seen_twice_charges_once(deliver, settings):
    settings.PAYMENT_FAILURE_RATE = 0.0
    command = ProcessPayment(saga_id=SAGA_ID, order_id=100, amount=Decimal("19.99"))
    message_id = str(uuid.uuid4())

    first = deliver(command, message_id=message_id)
    second = deliver(command, message_id=message_id)

    assert (first.outcome, second.outcome) == (Outcome.OK, Outcome.DUPLICATE)
    payment = Payment.objects.get(order_id=100)
    assert payment.amount == Decimal("19.99")
    assert InboxMessage.objects.using("payments").count() == 1
    [row] = replies()
    assert continues(row.traceparent, CALLER_TRACEPARENT)
    assert PaymentProcessed.from_body(row.payload).transaction_id == payment.transaction_id


@pytest.mark.django_db(databases=PAYMENTS_DB, transaction=True)
def test_a_recovery_resend_of_a_payment_gets_the_same_answer(deliver, settings):
    command = ProcessPayment(saga_id=SAGA_ID, order_id=100, amount=Decimal("19.99"))
    settings.PAYMENT_FAILURE_RATE = 1.0
    first = deliver(command)
    settings.PAYMENT_FAILURE_RATE = 0.0

    resent = deliver(command)

    assert (first.outcome, resent.outcome) == (Outcome.OK, Outcome.OK)
    assert Payment.objects.get().status == PaymentStatus.FAILED
    original, again = replies()
    assert again.payload == original.payload
    assert PaymentProcessed.from_body(again.payload).reason == "payment declined"
