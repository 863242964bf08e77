"""Cancelling orders: a running placement is compensated, a confirmed order gets a cancellation saga."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.messaging.contracts import RefundPayment
from apps.messaging.models import OutboxMessage
from apps.orders.models import Order, OrderStatus, SagaState, SagaStatus, SagaStep, SagaType
from apps.orders.selectors import saga_history
from apps.orders.services.cancellation import OrderNotCancellable, OrderNotFound, order_cancel
from apps.orders.services.idempotency import IdempotencyKeyReused
from apps.orders.services.operator import saga_mark_resolved, saga_retry_step
from apps.orders.services.periodic import saga_recover
from apps.orders.services.placement import order_place
from apps.orders.services.runtime import saga_apply_event

ORDERS_DB = ["orders"]


def place() -> SagaState:
    return order_place(user_id=7, lines=[(42, 2)], total_override=Decimal("19.98"))


def apply(saga: SagaState, event: str, reason: str = "") -> SagaState | None:
    with transaction.atomic(using="orders"):
        return saga_apply_event(saga_id=saga.saga_id, order_id=saga.order_id, event=event, reason=reason)


def confirmed() -> SagaState:
    saga = place()
    apply(saga, "INVENTORY_RESERVED")
    apply(saga, "PAYMENT_SUCCEEDED")
    return saga


def state(saga: SagaState) -> tuple[str, str, str]:
    stored = SagaState.objects.get(pk=saga.pk)
    return stored.status, stored.current_step, Order.objects.get(pk=saga.order_id).status


def last_refund(order_id: int) -> RefundPayment:
    row = OutboxMessage.objects.using("orders").filter(routing_key="payment.refund").order_by("-id").first()
    return RefundPayment.from_body(row.payload)


def keys(order_id: int) -> list[str]:
    sagas = SagaState.objects.filter(order_id=order_id).values_list("saga_id", flat=True)
    return list(
        OutboxMessage.objects.using("orders")
        .filter(saga_id__in=list(sagas))
        .order_by("id")
        .values_list("routing_key", flat=True)
    )


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_pending_order_while_reserving_releases_and_ends_cancelled():
    saga = place()

    answer = order_cancel(order_id=saga.order_id, reason="changed my mind", actor="ann")

    assert (answer.saga_id, answer.response_status) == (saga.saga_id, OrderStatus.CANCELLING)
    assert state(saga) == (SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY, OrderStatus.CANCELLING)
    assert keys(saga.order_id)[-1] == "inventory.release"
    # The reservation answering late changes nothing; the release's answer ends it.
    assert apply(saga, "INVENTORY_RESERVED") is None
    apply(saga, "INVENTORY_RELEASED")
    assert state(saga) == (SagaStatus.COMPENSATED, SagaStep.DONE, OrderStatus.CANCELLED)
    order = Order.objects.get(pk=saga.order_id)
    assert (order.cancel_reason, order.failure_reason) == ("changed my mind", "")
    cancel = [entry for entry in saga_history(saga=saga) if entry.event == "CANCEL_REQUESTED"]
    assert [(entry.actor, entry.reason) for entry in cancel] == [("ann", "changed my mind")]


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_pending_order_while_paying_releases_and_refunds_and_a_late_charge_changes_nothing():
    saga = place()
    apply(saga, "INVENTORY_RESERVED")

    order_cancel(order_id=saga.order_id)

    assert state(saga) == (SagaStatus.COMPENSATING, SagaStep.REFUNDING_PAYMENT, OrderStatus.CANCELLING)
    # Both go out at once: the stock comes back without waiting for the refund.
    assert keys(saga.order_id)[-2:] == ["inventory.release", "payment.refund"]
    assert last_refund(saga.order_id).charged_by == saga.saga_id
    assert apply(saga, "INVENTORY_RELEASED") is None
    assert apply(saga, "PAYMENT_SUCCEEDED") is None
    apply(saga, "PAYMENT_REFUNDED")
    assert keys(saga.order_id)[-1] == "inventory.release"
    apply(saga, "INVENTORY_RELEASED")
    assert state(saga) == (SagaStatus.COMPENSATED, SagaStep.DONE, OrderStatus.CANCELLED)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_confirmed_order_gets_a_cancellation_saga_that_refunds_then_restocks():
    placement = confirmed()

    answer = order_cancel(order_id=placement.order_id, reason="too late for the party")

    cancellation = SagaState.objects.get(saga_id=answer.saga_id)
    assert cancellation.saga_type == SagaType.CANCELLATION
    assert (cancellation.active_order_id, answer.response_status) == (placement.order_id, OrderStatus.CANCELLING)
    assert state(cancellation) == (SagaStatus.IN_PROGRESS, SagaStep.REFUNDING_PAYMENT, OrderStatus.CANCELLING)
    assert keys(placement.order_id)[-1] == "payment.refund"
    # Payments finds the charge by the saga that made it: the placement, not the cancellation.
    refund = last_refund(placement.order_id)
    assert (refund.saga_id, refund.payment_saga_id) == (cancellation.saga_id, placement.saga_id)
    apply(cancellation, "PAYMENT_REFUNDED")
    assert keys(placement.order_id)[-1] == "inventory.restock"
    apply(cancellation, "INVENTORY_RESTOCKED")
    assert state(cancellation) == (SagaStatus.COMPLETED, SagaStep.DONE, OrderStatus.CANCELLED)
    assert SagaState.objects.get(pk=cancellation.pk).active_order_id is None
    # The placement is untouched: it completed, and stays so.
    assert state(placement)[:2] == (SagaStatus.COMPLETED, SagaStep.DONE)
    timeline = saga_history(saga=cancellation)
    assert [entry.event for entry in timeline] == ["CANCEL_REQUESTED", "PAYMENT_REFUNDED", "INVENTORY_RESTOCKED"]
    assert timeline[0].reason == "too late for the party"


@pytest.mark.django_db(databases=ORDERS_DB)
@pytest.mark.parametrize("stage", ["pending", "confirmed"])
def test_cancelling_twice_gives_the_same_answer_and_sends_nothing_more(stage):
    saga = place() if stage == "pending" else confirmed()

    first = order_cancel(order_id=saga.order_id)
    sent = keys(saga.order_id)
    second = order_cancel(order_id=saga.order_id)

    assert (second.saga_id, second.response_status) == (first.saga_id, first.response_status)
    assert keys(saga.order_id) == sent
    assert SagaState.objects.filter(order_id=saga.order_id).count() == (1 if stage == "pending" else 2)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_cancelled_order_answers_cancelled_again():
    saga = confirmed()
    cancellation = order_cancel(order_id=saga.order_id)
    apply(cancellation, "PAYMENT_REFUNDED")
    apply(cancellation, "INVENTORY_RESTOCKED")

    again = order_cancel(order_id=saga.order_id)

    assert (again.saga_id, again.response_status) == (cancellation.saga_id, OrderStatus.CANCELLED)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_confirmed_order_past_the_window_is_refused(settings):
    settings.ORDER_CANCEL_WINDOW = "1h"
    saga = confirmed()
    SagaState.objects.filter(pk=saga.pk).update(completed_at=timezone.now() - timedelta(hours=2))

    with pytest.raises(OrderNotCancellable) as refused:
        order_cancel(order_id=saga.order_id)

    assert refused.value.code == "CANCEL_WINDOW_PASSED"
    assert state(saga) == (SagaStatus.COMPLETED, SagaStep.DONE, OrderStatus.CONFIRMED)


@pytest.mark.django_db(databases=ORDERS_DB)
@pytest.mark.parametrize(
    "events",
    [("INVENTORY_RESERVE_FAILED",), ("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASED")],
    ids=["failed", "compensated"],
)
def test_a_failed_or_compensated_order_is_refused(events):
    saga = place()
    for event in events:
        apply(saga, event)
    before = state(saga)

    with pytest.raises(OrderNotCancellable) as refused:
        order_cancel(order_id=saga.order_id)

    assert refused.value.code == "ORDER_NOT_CANCELLABLE"
    assert state(saga) == before


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_compensating_order_is_refused():
    saga = place()
    apply(saga, "INVENTORY_RESERVED")
    apply(saga, "PAYMENT_FAILED")

    with pytest.raises(OrderNotCancellable):
        order_cancel(order_id=saga.order_id)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_unknown_order_is_not_found():
    with pytest.raises(OrderNotFound):
        order_cancel(order_id=999_999)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_request():
    saga = confirmed()

    first = order_cancel(order_id=saga.order_id, reason="r", idempotency_key="cancel-1")
    replay = order_cancel(order_id=saga.order_id, reason="r", idempotency_key="cancel-1")

    assert (replay.replayed, replay.saga_id, replay.response_status) == (True, first.saga_id, first.response_status)
    with pytest.raises(IdempotencyKeyReused):
        order_cancel(order_id=saga.order_id, reason="other", idempotency_key="cancel-1")


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_order_cannot_have_two_active_sagas():
    saga = place()
    with pytest.raises(IntegrityError), transaction.atomic(using="orders"):
        SagaState.objects.create(order_id=saga.order_id, active_order_id=saga.order_id, saga_type="cancellation")


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_refund_that_keeps_failing_is_resent_then_waits_for_a_person():
    cancellation = order_cancel(order_id=confirmed().order_id)
    attempts = 5

    for attempt in range(1, attempts):
        apply(cancellation, "PAYMENT_REFUND_FAILED", reason="refund declined by the gateway")
        stored = SagaState.objects.get(pk=cancellation.pk)
        assert (stored.status, stored.step_attempts) == (SagaStatus.IN_PROGRESS, attempt)
        # Recovery sends it again once the saga has been idle long enough.
        SagaState.objects.filter(pk=cancellation.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
        OutboxMessage.objects.using("orders").update(dispatched_at=timezone.now())
        assert saga_recover(older_than=timedelta(seconds=30)) == 1
    apply(cancellation, "PAYMENT_REFUND_FAILED", reason="refund declined by the gateway")

    assert state(cancellation) == (SagaStatus.FAILED, SagaStep.REFUNDING_PAYMENT, OrderStatus.CANCELLING)
    assert keys(cancellation.order_id).count("payment.refund") == attempts
    # A person refunds by hand and closes it: the order is cancelled.
    assert saga_mark_resolved(saga_id=cancellation.saga_id, actor="ops", reason="refunded by phone") is True
    assert state(cancellation) == (SagaStatus.RESOLVED, SagaStep.REFUNDING_PAYMENT, OrderStatus.CANCELLED)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_operator_retries_a_cancellation_step():
    cancellation = order_cancel(order_id=confirmed().order_id)
    OutboxMessage.objects.using("orders").update(dispatched_at=timezone.now())

    assert saga_retry_step(saga_id=cancellation.saga_id, actor="ops") is True

    assert keys(cancellation.order_id)[-2:] == ["payment.refund", "payment.refund"]
    assert saga_history(saga=cancellation)[-1].event == "STEP_RETRIED"
