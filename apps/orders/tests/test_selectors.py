"""Triage: which sagas need a person, and what the others' business outcome was, from sagas moved by real events."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.messaging.models import OutboxMessage
from apps.orders.models import SagaState
from apps.orders.selectors import NEEDS_PERSON_TRIAGE, Triage, saga_needs_person_count, saga_triaged, saga_with_triage
from apps.orders.services.cancellation import order_cancel
from apps.orders.services.operator import saga_force_compensation, saga_mark_resolved
from apps.orders.services.runtime import saga_apply_event
from apps.orders.tests.test_admin import cancelled_after_confirmation, in_state

ORDERS_DB = ["default", "orders"]


def then(saga: SagaState, *events: str) -> SagaState:
    for event in events:
        with transaction.atomic(using="orders"):
            saga_apply_event(saga_id=saga.saga_id, order_id=saga.order_id, event=event, reason="test")
    OutboxMessage.objects.using("orders").update(dispatched_at=timezone.now())
    return SagaState.objects.get(pk=saga.pk)


def in_flight():
    return in_state("INVENTORY_RESERVED")


def completed():
    return in_state("INVENTORY_RESERVED", "PAYMENT_SUCCEEDED")


def out_of_stock():
    return in_state("INVENTORY_RESERVE_FAILED")


def payment_declined():
    return in_state("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASED")


def cancelled_while_placing():
    saga = in_state("INVENTORY_RESERVED")
    order_cancel(order_id=saga.order_id, reason="changed my mind", actor="customer")
    return then(saga, "PAYMENT_REFUNDED", "INVENTORY_RELEASED")


def cancelled_after_completion():
    return then(cancelled_after_confirmation(), "PAYMENT_REFUNDED", "INVENTORY_RESTOCKED")


def undone_by_an_operator():
    saga = in_state("INVENTORY_RESERVED")
    saga_force_compensation(saga_id=saga.saga_id, actor="ops", note="gateway down")
    # A refusal arriving after the saga moved on is noted, stale: it does not make this a declined payment.
    return then(saga, "PAYMENT_FAILED", "PAYMENT_REFUNDED", "INVENTORY_RELEASED")


def release_failed():
    return in_state("INVENTORY_RESERVED", "PAYMENT_FAILED", "INVENTORY_RELEASE_FAILED")


def placement_refund(*failures: str) -> SagaState:
    saga = in_state("INVENTORY_RESERVED")
    saga_force_compensation(saga_id=saga.saga_id, actor="ops", note="gateway down")
    return then(saga, *failures)


def placement_refund_gave_up():
    return placement_refund(*["PAYMENT_REFUND_FAILED"] * 5)


def placement_refund_failing():
    return placement_refund("PAYMENT_REFUND_FAILED")


def cancellation_refund_gave_up():
    return then(cancelled_after_confirmation(), *["PAYMENT_REFUND_FAILED"] * 5)


def cancellation_restock_failed():
    return then(cancelled_after_confirmation(), "PAYMENT_REFUNDED", "INVENTORY_RESTOCK_FAILED")


def stuck():
    saga = in_state("INVENTORY_RESERVED")
    SagaState.objects.filter(pk=saga.pk).update(deadline_at=timezone.now() - timedelta(minutes=5))
    return saga


def refund_failing():
    return then(cancelled_after_confirmation(), "PAYMENT_REFUND_FAILED")


def resolved():
    saga = release_failed()
    saga_mark_resolved(saga_id=saga.saga_id, actor="ops", note="stock counted by hand")
    return saga


CASES = [
    (in_flight, Triage.IN_FLIGHT),
    (completed, Triage.COMPLETED),
    (out_of_stock, Triage.OUT_OF_STOCK),
    (payment_declined, Triage.PAYMENT_DECLINED),
    (cancelled_while_placing, Triage.CANCELLED),
    (cancelled_after_completion, Triage.CANCELLED),
    (undone_by_an_operator, Triage.UNDONE),
    (release_failed, Triage.FAILED),
    (placement_refund_gave_up, Triage.FAILED),
    (cancellation_refund_gave_up, Triage.FAILED),
    (cancellation_restock_failed, Triage.FAILED),
    (stuck, Triage.STUCK),
    (refund_failing, Triage.REFUND_FAILING),
    (placement_refund_failing, Triage.REFUND_FAILING),
    (resolved, Triage.RESOLVED),
]


def triage_of(saga: SagaState) -> str:
    return saga_with_triage(SagaState.objects.filter(pk=saga.pk)).get().triage


@pytest.mark.parametrize(("build", "expected"), CASES, ids=[build.__name__ for build, _ in CASES])
@pytest.mark.django_db(databases=ORDERS_DB)
def test_each_saga_gets_its_triage(build, expected):
    saga = build()

    assert triage_of(saga) == expected


@pytest.mark.django_db(databases=ORDERS_DB)
def test_needs_a_person_is_exactly_failed_stuck_and_refund_failing():
    sagas = {build.__name__: build() for build, _ in CASES}
    wanted = {sagas[build.__name__].pk for build, expected in CASES if expected in NEEDS_PERSON_TRIAGE}

    listed = {saga.pk for saga in saga_triaged(SagaState.objects.all(), triage="needs_person")}

    assert listed == wanted
    assert saga_needs_person_count() == len(wanted)
    assert {saga.triage for saga in saga_triaged(SagaState.objects.all(), triage="needs_person")} == set(
        NEEDS_PERSON_TRIAGE
    )


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_triage_filter_lists_only_its_sagas():
    declined, stock = payment_declined(), out_of_stock()

    assert [saga.pk for saga in saga_triaged(SagaState.objects.all(), triage=Triage.PAYMENT_DECLINED)] == [declined.pk]
    assert [saga.pk for saga in saga_triaged(SagaState.objects.all(), triage=Triage.OUT_OF_STOCK)] == [stock.pk]
