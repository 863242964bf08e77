"""Saga operations: step deadlines, late replies, history, operator actions, idempotent placement."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from apps.messaging.models import OutboxMessage
from apps.orders.models import Order, OrderIdempotencyKey, OrderStatus, SagaHistory, SagaState, SagaStatus, SagaStep
from apps.orders.sagas.placement import PLACEMENT
from apps.orders.selectors import saga_history
from apps.orders.services.idempotency import IdempotencyKeyReused
from apps.orders.services.operator import SagaNotFound, saga_force_compensation, saga_mark_resolved, saga_retry_step
from apps.orders.services.periodic import saga_expire_deadlines
from apps.orders.services.placement import order_place
from apps.orders.services.runtime import saga_apply_event, saga_note
from apps.orders.tests.factories import one_line

ORDERS_DB = ["orders"]


def place(**changes) -> SagaState:
    arguments = {"user_id": 7, "product_id": 42, "quantity": 2, "total_amount": Decimal("19.98"), **changes}
    return order_place(**one_line(arguments))


def apply(saga: SagaState, event: str, reason: str = "", message_id=None) -> SagaState | None:
    with transaction.atomic(using="orders"):
        return saga_apply_event(
            saga_id=saga.saga_id, order_id=saga.order_id, event=event, reason=reason, message_id=message_id
        )


def state(saga: SagaState) -> tuple[str, str, str]:
    stored = SagaState.objects.get(pk=saga.pk)
    return stored.status, stored.current_step, Order.objects.get(pk=saga.order_id).status


def keys(saga: SagaState) -> list[str]:
    return list(
        OutboxMessage.objects.using("orders")
        .filter(saga_id=saga.saga_id)
        .order_by("id")
        .values_list("routing_key", flat=True)
    )


def history(saga: SagaState) -> list[tuple]:
    return [
        (entry.event, entry.from_status, entry.from_step, entry.to_status, entry.to_step, entry.actor)
        for entry in saga_history(saga=saga)
    ]


def overdue(saga: SagaState) -> None:
    SagaState.objects.filter(pk=saga.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))


def dispatch_everything() -> None:
    OutboxMessage.objects.using("orders").filter(dispatched_at__isnull=True).update(dispatched_at=timezone.now())


# --- deadlines ---------------------------------------------------------------------------


@pytest.mark.django_db(databases=ORDERS_DB)
def test_each_step_gets_the_deadline_of_its_setting(settings):
    settings.SAGA_STEP_DEADLINES = {**settings.SAGA_STEP_DEADLINES, "RESERVING_INVENTORY": 7, "PROCESSING_PAYMENT": 90}
    before = timezone.now()
    saga = place()
    reserving_deadline = SagaState.objects.get(pk=saga.pk).deadline_at
    apply(saga, "INVENTORY_RESERVED")
    paying_deadline = SagaState.objects.get(pk=saga.pk).deadline_at
    apply(saga, "PAYMENT_SUCCEEDED")

    assert before + timedelta(seconds=7) <= reserving_deadline <= timezone.now() + timedelta(seconds=7)
    assert before + timedelta(seconds=90) <= paying_deadline <= timezone.now() + timedelta(seconds=90)
    assert SagaState.objects.get(pk=saga.pk).deadline_at is None


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_reservation_past_its_deadline_is_released_and_the_saga_compensates():
    saga = place()
    overdue(saga)

    assert saga_expire_deadlines() == 1

    assert state(saga) == (SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED)
    assert keys(saga) == ["inventory.reserve", "inventory.release"]
    assert "RESERVING_INVENTORY got no answer within" in Order.objects.get(pk=saga.order_id).failure_reason
    # The late reservation's answer changes nothing; the release's answer ends the saga.
    assert apply(saga, "INVENTORY_RESERVED") is None
    apply(saga, "INVENTORY_RELEASED")
    assert state(saga) == (SagaStatus.COMPENSATED, SagaStep.DONE, OrderStatus.COMPENSATED)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_payment_past_its_deadline_releases_and_refunds_then_compensates_after_the_refund():
    saga = place()
    apply(saga, "INVENTORY_RESERVED")
    overdue(saga)

    assert saga_expire_deadlines() == 1

    assert state(saga) == (SagaStatus.COMPENSATING, SagaStep.REFUNDING_PAYMENT, OrderStatus.FAILED)
    assert keys(saga)[-2:] == ["inventory.release", "payment.refund"]
    # The release answers first (stock is back) and the late charge succeeds: neither moves the saga.
    assert apply(saga, "INVENTORY_RELEASED") is None
    assert apply(saga, "PAYMENT_SUCCEEDED") is None
    apply(saga, "PAYMENT_REFUNDED")
    assert state(saga) == (SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED)
    assert keys(saga)[-1] == "inventory.release"
    apply(saga, "INVENTORY_RELEASED")
    assert state(saga) == (SagaStatus.COMPENSATED, SagaStep.DONE, OrderStatus.COMPENSATED)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_deadlines_leave_sagas_in_time_finished_or_compensating():
    young = place()
    finished = place()
    apply(finished, "INVENTORY_RESERVE_FAILED")
    compensating = place()
    apply(compensating, "INVENTORY_RESERVED")
    apply(compensating, "PAYMENT_FAILED")
    for saga in (finished, compensating):
        overdue(saga)
    before = [state(saga) for saga in (young, finished, compensating)]

    assert saga_expire_deadlines() == 0

    assert [state(saga) for saga in (young, finished, compensating)] == before


@pytest.mark.django_db(databases=ORDERS_DB)
def test_checking_deadlines_twice_compensates_once():
    saga = place()
    overdue(saga)

    assert (saga_expire_deadlines(), saga_expire_deadlines()) == (1, 0)
    assert keys(saga) == ["inventory.reserve", "inventory.release"]


@pytest.mark.django_db(databases=ORDERS_DB)
def test_recover_sagas_command_also_checks_deadlines(capsys):
    saga = place()
    overdue(saga)

    call_command("recover_sagas", "--older-than", "3600")

    assert state(saga)[0] == SagaStatus.COMPENSATING
    assert "compensated 1 saga(s) past their step deadline" in capsys.readouterr().out


# --- history -------------------------------------------------------------------------------


@pytest.mark.django_db(databases=ORDERS_DB)
def test_every_transition_is_recorded_with_its_message_and_reason():
    saga = place()
    reserved_id, declined_id, released_id, late_id = (uuid.uuid4() for _ in range(4))
    apply(saga, "INVENTORY_RESERVED", message_id=reserved_id)
    apply(saga, "PAYMENT_FAILED", reason="payment declined", message_id=declined_id)
    apply(saga, "INVENTORY_RELEASED", message_id=released_id)
    apply(saga, "PAYMENT_SUCCEEDED", message_id=late_id)

    entries = saga_history(saga=saga)
    assert [(entry.event, entry.from_status, entry.from_step, entry.to_status, entry.to_step) for entry in entries] == [
        ("ORDER_PLACED", "", "", "IN_PROGRESS", "RESERVING_INVENTORY"),
        ("INVENTORY_RESERVED", "IN_PROGRESS", "RESERVING_INVENTORY", "IN_PROGRESS", "PROCESSING_PAYMENT"),
        ("PAYMENT_FAILED", "IN_PROGRESS", "PROCESSING_PAYMENT", "COMPENSATING", "RELEASING_INVENTORY"),
        ("INVENTORY_RELEASED", "COMPENSATING", "RELEASING_INVENTORY", "COMPENSATED", "DONE"),
        ("PAYMENT_SUCCEEDED", "COMPENSATED", "DONE", "COMPENSATED", "DONE"),
    ]
    assert [entry.message_id for entry in entries] == [None, reserved_id, declined_id, released_id, late_id]
    assert entries[2].reason == "payment declined"
    assert entries[4].reason.startswith("ignored")
    assert all(entry.actor == "" for entry in entries)
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_the_commit_answer_is_noted_on_the_completed_saga():
    saga = place()
    apply(saga, "INVENTORY_RESERVED")
    apply(saga, "PAYMENT_SUCCEEDED")

    with transaction.atomic(using="orders"):
        saga_note(saga_id=saga.saga_id, order_id=saga.order_id, notice=PLACEMENT.on_completion[0], success=True)

    assert history(saga)[-1] == ("INVENTORY_COMMITTED", "COMPLETED", "DONE", "COMPLETED", "DONE", "")
    assert state(saga) == (SagaStatus.COMPLETED, SagaStep.DONE, OrderStatus.CONFIRMED)


# --- operator actions -------------------------------------------------------------------------


@pytest.mark.django_db(databases=ORDERS_DB)
def test_retry_resends_the_step_once_until_it_has_left_the_outbox():
    saga = place()
    apply(saga, "INVENTORY_RESERVED")
    dispatch_everything()
    overdue(saga)

    first = saga_retry_step(saga_id=saga.saga_id, actor="alice")
    second = saga_retry_step(saga_id=saga.saga_id, actor="alice")

    assert (first, second) == (True, False)
    assert keys(saga) == ["inventory.reserve", "payment.process", "payment.process"]
    assert SagaState.objects.get(pk=saga.pk).deadline_at > timezone.now()
    assert history(saga)[-1] == (
        "STEP_RETRIED",
        "IN_PROGRESS",
        "PROCESSING_PAYMENT",
        "IN_PROGRESS",
        "PROCESSING_PAYMENT",
        "alice",
    )


@pytest.mark.django_db(databases=ORDERS_DB)
def test_retry_of_a_finished_saga_does_nothing():
    saga = place()
    apply(saga, "INVENTORY_RESERVE_FAILED")
    dispatch_everything()

    assert saga_retry_step(saga_id=saga.saga_id, actor="alice") is False
    assert keys(saga) == ["inventory.reserve"]


@pytest.mark.django_db(databases=ORDERS_DB)
def test_forced_compensation_acts_once_and_names_its_actor():
    saga = place()
    apply(saga, "INVENTORY_RESERVED")

    first = saga_force_compensation(saga_id=saga.saga_id, actor="bob")
    second = saga_force_compensation(saga_id=saga.saga_id, actor="bob")

    assert (first, second) == (True, False)
    assert state(saga) == (SagaStatus.COMPENSATING, SagaStep.REFUNDING_PAYMENT, OrderStatus.FAILED)
    assert keys(saga) == ["inventory.reserve", "payment.process", "inventory.release", "payment.refund"]
    assert history(saga)[-1][0::5] == ("COMPENSATION_FORCED", "bob")


@pytest.mark.django_db(databases=ORDERS_DB)
def test_only_a_failed_saga_can_be_marked_resolved():
    active = place()
    failed = place()
    apply(failed, "INVENTORY_RESERVED")
    apply(failed, "PAYMENT_FAILED")
    apply(failed, "INVENTORY_RELEASE_FAILED", reason="reserved stock is missing")

    assert saga_mark_resolved(saga_id=active.saga_id, actor="carol") is False
    assert saga_mark_resolved(saga_id=failed.saga_id, actor="carol") is True
    assert saga_mark_resolved(saga_id=failed.saga_id, actor="carol") is False

    assert state(failed) == (SagaStatus.RESOLVED, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED)
    assert [entry[0] for entry in history(failed)].count("RESOLVED_BY_OPERATOR") == 1
    assert state(active)[0] == SagaStatus.IN_PROGRESS


@pytest.mark.django_db(databases=ORDERS_DB)
def test_actions_on_an_unknown_saga_raise():
    for action in (saga_retry_step, saga_force_compensation, saga_mark_resolved):
        with pytest.raises(SagaNotFound):
            action(saga_id=uuid.uuid4(), actor="dave")


# --- idempotent placement -------------------------------------------------------------------


@pytest.mark.django_db(databases=ORDERS_DB)
def test_the_same_key_and_request_replays_the_first_order():
    first = place(idempotency_key="key-1")
    apply(first, "INVENTORY_RESERVED")

    again = place(idempotency_key="key-1", total_amount=Decimal("19.980"))

    assert (again.saga_id, again.order_id, again.replayed, again.response_status) == (
        first.saga_id,
        first.order_id,
        True,
        "PENDING",
    )
    assert (Order.objects.count(), SagaState.objects.count(), OrderIdempotencyKey.objects.count()) == (1, 1, 1)
    assert keys(first) == ["inventory.reserve", "payment.process"]


@pytest.mark.django_db(databases=ORDERS_DB)
def test_the_same_key_with_another_request_is_refused():
    place(idempotency_key="key-1")

    with pytest.raises(IdempotencyKeyReused):
        place(idempotency_key="key-1", quantity=3)

    assert Order.objects.count() == 1


@pytest.mark.django_db(databases=ORDERS_DB)
def test_different_keys_and_no_key_place_separate_orders():
    sagas = [place(idempotency_key="a"), place(idempotency_key="b"), place(), place()]

    assert len({saga.order_id for saga in sagas}) == 4
    assert not any(saga.replayed for saga in sagas)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_second_retry_right_after_the_first_is_a_double_click_even_once_the_command_left():
    saga = place()
    dispatch_everything()

    first = saga_retry_step(saga_id=saga.saga_id, actor="alice")
    dispatch_everything()
    second = saga_retry_step(saga_id=saga.saga_id, actor="alice")
    SagaHistory.objects.filter(saga_id=saga.pk, event="STEP_RETRIED").update(at=timezone.now() - timedelta(minutes=1))
    later = saga_retry_step(saga_id=saga.saga_id, actor="alice")

    assert (first, second, later) == (True, False, True)
    assert keys(saga) == ["inventory.reserve", "inventory.reserve", "inventory.reserve"]
