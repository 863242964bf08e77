"""Refunds: a charge is given back once, and a charge arriving after its refund is refused."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from apps.messaging.consumer import HandlerContext, Unprocessable
from apps.messaging.contracts import PaymentProcessed, PaymentRefunded, ProcessPayment, RefundPayment
from apps.messaging.models import OutboxMessage
from apps.payments.handlers import on_process_payment, on_refund_payment
from apps.payments.models import Payment, PaymentStatus
from apps.payments.services import payment_process, payment_refund

PAYMENTS_DB = ["payments"]
SAGA_ID = uuid.UUID("1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b")
AMOUNT = Decimal("19.99")


def in_consumer(call):
    with transaction.atomic(using="payments"):
        return call()


def charge(order_id: int = 100) -> Payment:
    return in_consumer(lambda: payment_process(order_id=order_id, saga_id=SAGA_ID, amount=AMOUNT))


def refund(order_id: int = 100) -> Payment:
    return in_consumer(lambda: payment_refund(order_id=order_id, saga_id=SAGA_ID, amount=AMOUNT))


def handle(handler, command) -> None:
    context = HandlerContext(using="payments", message_id=uuid.uuid4(), routing_key=command.routing_key)
    in_consumer(lambda: handler(command, context))


def last_reply():
    row = OutboxMessage.objects.using("payments").order_by("-id").first()
    return {"payment.processed": PaymentProcessed, "payment.refunded": PaymentRefunded}[row.routing_key].from_body(
        row.payload
    )


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_refund_gives_back_a_successful_charge_once(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0
    charged = charge()

    first = refund()
    second = refund()

    stored = Payment.objects.get(order_id=100)
    assert (stored.status, stored.transaction_id) == (PaymentStatus.REFUNDED, charged.transaction_id)
    assert stored.refund_id.startswith("rfd_")
    assert stored.refunded_at is not None
    assert first.refund_id == second.refund_id == stored.refund_id


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_refund_before_any_charge_voids_the_order_and_refuses_the_late_charge(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0

    voided = refund()
    late = charge()

    assert voided.status == PaymentStatus.VOIDED
    assert (late.pk, late.status) == (voided.pk, PaymentStatus.VOIDED)
    assert Payment.objects.count() == 1


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_refund_of_a_declined_charge_changes_nothing(settings):
    settings.PAYMENT_FAILURE_RATE = 1.0
    charge()

    assert refund().status == PaymentStatus.FAILED


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_the_refund_reply_names_the_refund_or_says_nothing_was_charged(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0
    charge(100)

    handle(on_refund_payment, RefundPayment(saga_id=SAGA_ID, order_id=100, amount=AMOUNT))
    refunded = last_reply()
    handle(on_refund_payment, RefundPayment(saga_id=SAGA_ID, order_id=200, amount=AMOUNT))
    voided = last_reply()

    assert (refunded.success, refunded.reason) == (True, "")
    assert refunded.transaction_id == Payment.objects.get(order_id=100).refund_id
    assert (voided.success, voided.transaction_id, voided.reason) == (True, "", "nothing was charged")


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_late_charge_after_the_refund_is_answered_as_declined(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0
    handle(on_refund_payment, RefundPayment(saga_id=SAGA_ID, order_id=100, amount=AMOUNT))

    handle(on_process_payment, ProcessPayment(saga_id=SAGA_ID, order_id=100, amount=AMOUNT))

    reply = last_reply()
    assert (reply.success, reply.reason) == (False, "payment cancelled before any charge")


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_refund_the_gateway_declines_leaves_the_charge_and_answers_a_failure(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0
    charge(100)
    settings.PAYMENT_REFUND_FAILURE_RATE = 1.0

    handle(on_refund_payment, RefundPayment(saga_id=SAGA_ID, order_id=100, amount=AMOUNT))
    declined = last_reply()

    assert (declined.success, declined.reason) == (False, "refund declined by the gateway")
    assert Payment.objects.get(order_id=100).status == PaymentStatus.SUCCESS

    settings.PAYMENT_REFUND_FAILURE_RATE = 0.0
    handle(on_refund_payment, RefundPayment(saga_id=SAGA_ID, order_id=100, amount=AMOUNT))
    assert (last_reply().success, Payment.objects.get(order_id=100).status) == (True, PaymentStatus.REFUNDED)


OTHER_SAGA = uuid.UUID("2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7a8b")


@pytest.mark.django_db(databases=PAYMENTS_DB)
@pytest.mark.parametrize(
    ("saga_id", "amount", "refusal"),
    [(OTHER_SAGA, AMOUNT, "was made by saga"), (SAGA_ID, Decimal("0.01"), "is for 19.99, not 0.01")],
    ids=["another-saga", "another-amount"],
)
def test_a_charge_that_disagrees_with_the_orders_payment_is_unprocessable(settings, saga_id, amount, refusal):
    settings.PAYMENT_FAILURE_RATE = 0.0
    charge(100)

    with pytest.raises(Unprocessable, match=refusal):
        handle(on_process_payment, ProcessPayment(saga_id=saga_id, order_id=100, amount=amount))

    stored = Payment.objects.get(order_id=100)
    assert (stored.status, stored.saga_id, stored.amount) == (PaymentStatus.SUCCESS, SAGA_ID, AMOUNT)


@pytest.mark.django_db(databases=PAYMENTS_DB)
@pytest.mark.parametrize(
    "command",
    [
        RefundPayment(saga_id=OTHER_SAGA, order_id=100, amount=AMOUNT),
        RefundPayment(saga_id=SAGA_ID, order_id=100, amount=AMOUNT, payment_saga_id=OTHER_SAGA),
        RefundPayment(saga_id=SAGA_ID, order_id=100, amount=Decimal("5.00")),
    ],
    ids=["another-saga", "naming-another-payment", "another-amount"],
)
def test_a_refund_that_does_not_name_the_orders_payment_is_unprocessable(settings, command):
    settings.PAYMENT_FAILURE_RATE = 0.0
    charge(100)

    with pytest.raises(Unprocessable):
        handle(on_refund_payment, command)

    assert Payment.objects.get(order_id=100).status == PaymentStatus.SUCCESS
    assert OutboxMessage.objects.using("payments").count() == 0


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_cancellations_refund_names_the_placement_that_charged(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0
    charge(100)

    handle(on_refund_payment, RefundPayment(saga_id=OTHER_SAGA, order_id=100, amount=AMOUNT, payment_saga_id=SAGA_ID))

    assert Payment.objects.get(order_id=100).status == PaymentStatus.REFUNDED
    assert last_reply().saga_id == OTHER_SAGA


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_charge_for_an_order_voided_by_another_saga_is_unprocessable(settings):
    settings.PAYMENT_FAILURE_RATE = 0.0
    handle(on_refund_payment, RefundPayment(saga_id=OTHER_SAGA, order_id=100, amount=AMOUNT))

    with pytest.raises(Unprocessable, match="was made by saga"):
        handle(on_process_payment, ProcessPayment(saga_id=SAGA_ID, order_id=100, amount=AMOUNT))
    assert Payment.objects.get(order_id=100).status == PaymentStatus.VOIDED
