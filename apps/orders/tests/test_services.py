"""Orders' services and handlers: placing an order, driving its saga, recovering idle sagas."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from apps.common.tests.sql import AWARE_DATETIMES, prepared_both_ways
from apps.common.tests.tracing import CALLER_TRACEPARENT, continues, in_span
from apps.messaging.consumer import ConsumerSpec, Outcome, Unprocessable, handle_batch, handle_delivery
from apps.messaging.contracts import (
    CONTRACTS,
    CommitInventory,
    InventoryReleased,
    InventoryReserved,
    PaymentProcessed,
    ProcessPayment,
    ReleaseInventory,
    ReserveInventory,
    StockLine,
)
from apps.messaging.models import InboxMessage, OutboxMessage
from apps.messaging.tests.signed import signed_delivery
from apps.orders.models import Order, OrderStatus, SagaHistory, SagaState, SagaStatus, SagaStep
from apps.orders.selectors import saga_history
from apps.orders.services.periodic import saga_recover
from apps.orders.services.placement import order_place
from apps.orders.services.runtime import saga_apply_event
from apps.orders.tests.factories import one_line

ORDERS_DB = ["orders"]
TRACE_ID = "trace-ord-1"
IDLE = timedelta(minutes=5)
LINE = (StockLine(product_id=42, quantity=2),)

RESERVED = "INVENTORY_RESERVED"
RESERVE_FAILED = "INVENTORY_RESERVE_FAILED"
PAID = "PAYMENT_SUCCEEDED"
PAYMENT_FAILED = "PAYMENT_FAILED"
RELEASED = "INVENTORY_RELEASED"
RELEASE_FAILED = "INVENTORY_RELEASE_FAILED"


def place(**changes) -> SagaState:
    arguments = {
        "user_id": 7,
        "product_id": 42,
        "quantity": 2,
        "total_amount": Decimal("19.98"),
        "trace_id": TRACE_ID,
        **changes,
    }
    return order_place(**one_line(arguments))


def apply(saga: SagaState, event: str, reason: str = "") -> SagaState | None:
    # The consumer's transaction, which the handler-called service expects to run in.
    with transaction.atomic(using="orders"):
        return saga_apply_event(saga_id=saga.saga_id, order_id=saga.order_id, event=event, reason=reason)


def walk(saga: SagaState, *events: str) -> None:
    for event in events:
        assert apply(saga, event, reason=f"{event.lower()} reason") is not None


def commands(saga: SagaState) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.using("orders").filter(saga_id=saga.saga_id).order_by("id"))


def parsed(row: OutboxMessage):
    return CONTRACTS[row.routing_key].from_body(row.payload)


def snapshot(saga: SagaState) -> tuple:
    state = SagaState.objects.get(pk=saga.pk)
    order = Order.objects.get(pk=saga.order_id)
    return (
        state.status,
        state.current_step,
        state.updated_at,
        state.completed_at,
        order.status,
        order.failure_reason,
        order.updated_at,
        OutboxMessage.objects.using("orders").count(),
    )


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def make_idle(saga: SagaState, *, for_: timedelta = timedelta(hours=1)) -> None:
    SagaState.objects.filter(pk=saga.pk).update(updated_at=timezone.now() - for_)


def dispatch_everything() -> None:
    OutboxMessage.objects.using("orders").filter(dispatched_at__isnull=True).update(dispatched_at=timezone.now())


# --- order_place -----------------------------------------------------------------


@pytest.mark.django_db(databases=ORDERS_DB)
def test_place_creates_a_pending_order_its_saga_and_the_reserve_command():
    with in_span() as placing:
        saga = place()

    order = Order.objects.get(pk=saga.order_id)
    assert (order.user_id, order.total_amount, order.price_overridden) == (7, Decimal("19.98"), True)
    assert [(line.product_id, line.quantity, line.unit_price) for line in order.lines.all()] == [(42, 2, None)]
    assert (order.status, order.failure_reason) == (OrderStatus.PENDING, "")
    stored = SagaState.objects.get(saga_id=saga.saga_id)
    assert (stored.order_id, stored.status, stored.current_step) == (
        order.pk,
        SagaStatus.IN_PROGRESS,
        SagaStep.RESERVING_INVENTORY,
    )
    assert (stored.trace_id, stored.completed_at) == (TRACE_ID, None)
    [row] = OutboxMessage.objects.using("orders").all()
    assert (row.exchange, row.routing_key, row.message_type) == (
        "saga.commands",
        "inventory.reserve",
        "ReserveInventory",
    )
    # The command continues the trace of the span that placed the order.
    assert (row.saga_id, row.traceparent, row.dispatched_at) == (saga.saga_id, placing, None)
    assert parsed(row) == ReserveInventory(saga_id=saga.saga_id, order_id=order.pk, lines=LINE, price_override=True)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_each_placed_order_gets_its_own_saga_and_command():
    first = place()
    second = place(product_id=43)

    assert first.saga_id != second.saga_id
    assert first.order_id != second.order_id
    assert [parsed(row).lines for row in commands(second)] == [(StockLine(product_id=43, quantity=2),)]
    assert len(commands(first)) == 1


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_placed_order_returns_the_rows_as_the_orm_reads_them_back():
    saga = place()

    assert fields(saga) == fields(SagaState.objects.get(pk=saga.pk))
    assert fields(saga.order) == fields(Order.objects.get(pk=saga.order_id))
    assert saga.created_at.tzinfo is not None
    assert not SagaHistory.objects.filter(saga=saga).exists()
    [placed] = saga_history(saga=saga)
    assert (placed.event, placed.from_status, placed.to_status, placed.to_step, placed.message_id) == (
        "ORDER_PLACED",
        "",
        SagaStatus.IN_PROGRESS,
        SagaStep.RESERVING_INVENTORY,
        None,
    )
    assert placed.at == saga.created_at


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_stored_placement_entry_is_shown_once():
    saga = place()
    stored = SagaHistory.objects.create(
        saga=saga, at=saga.created_at, to_status="IN_PROGRESS", to_step="RESERVING_INVENTORY", event="ORDER_PLACED"
    )
    apply(saga, "INVENTORY_RESERVED")

    assert [(entry.pk, entry.event) for entry in saga_history(saga=saga)] == [
        (stored.pk, "ORDER_PLACED"),
        (stored.pk + 1, RESERVED),
    ]


# --- saga_apply_event --------------------------------------------------------------


@pytest.mark.django_db(databases=ORDERS_DB)
def test_happy_path_reserves_then_charges_then_confirms():
    saga = place()

    reserved = apply(saga, RESERVED)

    assert (reserved.status, reserved.current_step, reserved.completed_at) == (
        SagaStatus.IN_PROGRESS,
        SagaStep.PROCESSING_PAYMENT,
        None,
    )
    assert Order.objects.get(pk=saga.order_id).status == OrderStatus.PENDING
    _, payment = commands(saga)
    assert (payment.routing_key, payment.message_type) == ("payment.process", "ProcessPayment")
    assert parsed(payment) == ProcessPayment(
        saga_id=saga.saga_id, order_id=saga.order_id, amount=Decimal("19.98"), user_id=7
    )

    paid = apply(saga, PAID)

    stored = SagaState.objects.get(pk=saga.pk)
    assert (paid.status, paid.current_step) == (SagaStatus.COMPLETED, SagaStep.DONE)
    assert (stored.status, stored.current_step) == (SagaStatus.COMPLETED, SagaStep.DONE)
    assert stored.completed_at is not None
    order = Order.objects.get(pk=saga.order_id)
    assert (order.status, order.failure_reason) == (OrderStatus.CONFIRMED, "")
    *_, commit = commands(saga)
    assert parsed(commit) == CommitInventory(saga_id=saga.saga_id, order_id=saga.order_id, lines=LINE)
    assert (stored.deadline_at, len(commands(saga))) == (None, 3)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_failed_payment_compensates_by_releasing_the_stock():
    saga = place()
    apply(saga, RESERVED)

    compensating = apply(saga, PAYMENT_FAILED, reason="payment declined")

    assert (compensating.status, compensating.current_step, compensating.completed_at) == (
        SagaStatus.COMPENSATING,
        SagaStep.RELEASING_INVENTORY,
        None,
    )
    order = Order.objects.get(pk=saga.order_id)
    assert (order.status, order.failure_reason) == (OrderStatus.FAILED, "payment declined")
    release = commands(saga)[-1]
    assert release.routing_key == "inventory.release"
    assert parsed(release) == ReleaseInventory(saga_id=saga.saga_id, order_id=saga.order_id, lines=LINE)

    apply(saga, RELEASED)

    stored = SagaState.objects.get(pk=saga.pk)
    assert (stored.status, stored.current_step) == (SagaStatus.COMPENSATED, SagaStep.DONE)
    assert stored.completed_at is not None
    order = Order.objects.get(pk=saga.order_id)
    assert (order.status, order.failure_reason) == (OrderStatus.COMPENSATED, "payment declined")
    assert len(commands(saga)) == 3


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_failed_reservation_fails_the_order_with_its_reason():
    saga = place()

    failed = apply(saga, RESERVE_FAILED, reason="insufficient stock")

    stored = SagaState.objects.get(pk=saga.pk)
    assert (failed.status, stored.status, stored.current_step) == (
        SagaStatus.FAILED,
        SagaStatus.FAILED,
        SagaStep.RESERVING_INVENTORY,
    )
    assert stored.completed_at is not None
    order = Order.objects.get(pk=saga.order_id)
    assert (order.status, order.failure_reason) == (OrderStatus.FAILED, "insufficient stock")
    assert len(commands(saga)) == 1


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_failed_release_stops_the_saga_where_stock_may_be_held():
    saga = place()
    apply(saga, RESERVED)
    apply(saga, PAYMENT_FAILED, reason="payment declined")

    apply(saga, RELEASE_FAILED, reason="reserved stock is missing")

    stored = SagaState.objects.get(pk=saga.pk)
    assert (stored.status, stored.current_step) == (SagaStatus.FAILED, SagaStep.RELEASING_INVENTORY)
    assert stored.completed_at is not None
    order = Order.objects.get(pk=saga.order_id)
    # The first reason is the one the customer sees.
    assert (order.status, order.failure_reason) == (OrderStatus.FAILED, "payment declined")
    assert len(commands(saga)) == 3


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_step_stores_what_it_returns_and_stamps_saga_order_and_history_alike():
    saga = place()
    message_id = uuid.uuid4()
    apply(saga, RESERVED)

    with transaction.atomic(using="orders"):
        failed = saga_apply_event(
            saga_id=saga.saga_id,
            order_id=saga.order_id,
            event=PAYMENT_FAILED,
            reason="card declined",
            message_id=message_id,
        )

    stored = SagaState.objects.get(pk=saga.pk)
    assert fields(failed) == fields(stored)
    order = Order.objects.get(pk=saga.order_id)
    assert (order.status, order.failure_reason, order.total_amount) == (
        OrderStatus.FAILED,
        "card declined",
        Decimal("19.98"),
    )
    step = SagaHistory.objects.get(saga=saga, event=PAYMENT_FAILED)
    assert stored.updated_at == order.updated_at == step.at
    assert stored.updated_at > saga.updated_at
    assert stored.updated_at.tzinfo is not None
    assert (step.from_status, step.from_step, step.to_status, step.to_step) == (
        SagaStatus.IN_PROGRESS,
        SagaStep.PROCESSING_PAYMENT,
        SagaStatus.COMPENSATING,
        SagaStep.RELEASING_INVENTORY,
    )
    assert (step.message_id, step.reason, step.actor) == (message_id, "card declined", "")


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_step_that_leaves_the_order_as_it_was_does_not_write_it():
    saga = place()
    placed = Order.objects.get(pk=saga.order_id)

    reserved = apply(saga, RESERVED)

    order = Order.objects.get(pk=saga.order_id)
    assert (order.status, order.failure_reason, order.updated_at) == (OrderStatus.PENDING, "", placed.updated_at)
    assert reserved.updated_at > placed.updated_at
    assert SagaState.objects.get(pk=saga.pk).current_step == SagaStep.PROCESSING_PAYMENT


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_terminal_step_sets_completed_at_and_clears_the_deadline():
    saga = place()
    walk(saga, RESERVED)

    done = apply(saga, PAID)

    stored = SagaState.objects.get(pk=saga.pk)
    assert fields(done) == fields(stored)
    assert (stored.deadline_at, stored.completed_at) == (None, stored.updated_at)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_long_reason_is_cut_to_the_column():
    saga = place()

    apply(saga, RESERVE_FAILED, reason="x" * 300)

    assert Order.objects.get(pk=saga.order_id).failure_reason == "x" * 255


@pytest.mark.parametrize(
    ("history", "stale"),
    [
        ((RESERVED, PAID), RESERVED),
        ((RESERVED, PAID), PAYMENT_FAILED),
        ((), PAID),
        ((), RELEASED),
        ((RESERVED,), RESERVED),
        ((RESERVED,), RESERVE_FAILED),
        ((RESERVED, PAYMENT_FAILED), PAID),
        ((RESERVED, PAYMENT_FAILED, RELEASED), RELEASED),
        ((RESERVED, PAYMENT_FAILED, RELEASED), RELEASE_FAILED),
        ((RESERVE_FAILED,), RESERVED),
        ((RESERVED, PAYMENT_FAILED, RELEASE_FAILED), RELEASED),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(value) or "placed",
)
@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_stale_event_changes_nothing(history, stale):
    saga = place()
    walk(saga, *history)
    before = snapshot(saga)

    result = apply(saga, stale, reason="late reason")

    assert result is None
    assert snapshot(saga) == before


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_event_for_an_unknown_saga_is_unprocessable():
    saga = place()
    before = snapshot(saga)

    with pytest.raises(Unprocessable), transaction.atomic(using="orders"):
        saga_apply_event(saga_id=uuid.uuid4(), order_id=saga.order_id, event=RESERVED)

    assert snapshot(saga) == before


@pytest.mark.django_db(databases=ORDERS_DB)
def test_an_event_naming_another_order_is_unprocessable():
    saga = place()
    other = place()
    before = snapshot(saga)

    with pytest.raises(Unprocessable), transaction.atomic(using="orders"):
        saga_apply_event(saga_id=saga.saga_id, order_id=other.order_id, event=RESERVED)

    assert snapshot(saga) == before


# --- saga_recover --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "routing_key"),
    [((), "inventory.reserve"), ((RESERVED,), "payment.process"), ((RESERVED, PAYMENT_FAILED), "inventory.release")],
    ids=["reserving", "paying", "releasing"],
)
@pytest.mark.django_db(databases=ORDERS_DB)
def test_recover_resends_the_current_steps_command_of_an_idle_saga(history, routing_key):
    saga = place()
    walk(saga, *history)
    dispatch_everything()
    make_idle(saga)
    last = commands(saga)[-1]

    with in_span() as recovering:
        resent = saga_recover(older_than=IDLE)

    assert resent == 1
    *_, previous, fresh = commands(saga)
    assert previous == last
    assert fresh.routing_key == routing_key == last.routing_key
    assert fresh.message_id != last.message_id
    # A re-send is the recovery's doing: it continues the recovery's trace (the saga keeps the placement's id).
    assert (fresh.payload, fresh.traceparent, fresh.dispatched_at) == (last.payload, recovering, None)


@pytest.mark.django_db(databases=ORDERS_DB)
def test_recover_leaves_a_saga_whose_command_still_waits_in_the_outbox():
    saga = place()
    make_idle(saga)

    assert saga_recover(older_than=IDLE) == 0

    assert len(commands(saga)) == 1


@pytest.mark.parametrize(
    "history",
    [(RESERVED, PAID), (RESERVE_FAILED,), (RESERVED, PAYMENT_FAILED, RELEASED)],
    ids=["completed", "failed", "compensated"],
)
@pytest.mark.django_db(databases=ORDERS_DB)
def test_recover_leaves_a_finished_saga(history):
    saga = place()
    walk(saga, *history)
    dispatch_everything()
    make_idle(saga)
    sent = len(commands(saga))

    assert saga_recover(older_than=IDLE) == 0

    assert len(commands(saga)) == sent


@pytest.mark.django_db(databases=ORDERS_DB)
def test_recover_leaves_a_saga_younger_than_the_age():
    saga = place()
    dispatch_everything()
    make_idle(saga, for_=timedelta(minutes=1))

    assert saga_recover(older_than=IDLE) == 0

    assert len(commands(saga)) == 1


@pytest.mark.django_db(databases=ORDERS_DB)
def test_recover_twice_resends_once_because_the_resend_touches_the_saga():
    saga = place()
    dispatch_everything()
    make_idle(saga)
    idle_since = SagaState.objects.get(pk=saga.pk).updated_at

    first = saga_recover(older_than=IDLE)
    # The re-sent row is gone to the broker: only the fresh updated_at holds the saga back now.
    dispatch_everything()
    second = saga_recover(older_than=IDLE)

    assert (first, second) == (1, 0)
    assert len(commands(saga)) == 2
    assert SagaState.objects.get(pk=saga.pk).updated_at > idle_since


@pytest.mark.django_db(databases=ORDERS_DB)
def test_recover_with_no_age_is_held_back_by_its_own_pending_resend():
    saga = place()
    dispatch_everything()
    make_idle(saga)

    first = saga_recover(older_than=timedelta(0))
    second = saga_recover(older_than=timedelta(0))

    assert (first, second) == (1, 0)
    assert len(commands(saga)) == 2


@pytest.mark.django_db(databases=ORDERS_DB)
def test_recover_handles_only_the_idle_sagas_and_respects_the_limit():
    idle = [place() for _ in range(3)]
    busy = place()
    dispatch_everything()
    for saga in idle:
        make_idle(saga)

    assert saga_recover(older_than=IDLE, limit=2) == 2
    assert saga_recover(older_than=IDLE, limit=2) == 1

    assert [len(commands(saga)) for saga in idle] == [2, 2, 2]
    assert len(commands(busy)) == 1


# --- the full consumer path ------------------------------------------------------------


@pytest.fixture
def deliver():
    """Hand a delivery to the orders consumer, as its worker would."""
    spec = ConsumerSpec.from_settings("orders")

    def send(message, *, message_id: str | None = None):
        delivery = signed_delivery(
            routing_key=message.routing_key,
            body=message.to_body(),
            message_id=message_id,
            headers={"traceparent": CALLER_TRACEPARENT},
        )
        return handle_delivery(spec, delivery)

    return send


def reserved_event(saga: SagaState, **changes) -> InventoryReserved:
    fields = {"saga_id": saga.saga_id, "order_id": saga.order_id, "lines": LINE, "success": True}
    return InventoryReserved(**{**fields, **changes})


@pytest.mark.django_db(databases=ORDERS_DB, transaction=True)
def test_replies_delivered_through_the_consumer_drive_the_saga(deliver):
    saga = place()

    results = [
        deliver(reserved_event(saga)),
        deliver(PaymentProcessed(saga_id=saga.saga_id, order_id=saga.order_id, transaction_id="t", success=False)),
        deliver(InventoryReleased(saga_id=saga.saga_id, order_id=saga.order_id, lines=LINE, success=True)),
    ]

    assert [result.outcome for result in results] == [Outcome.OK] * 3
    stored = SagaState.objects.get(pk=saga.pk)
    assert (stored.status, stored.current_step) == (SagaStatus.COMPENSATED, SagaStep.DONE)
    assert Order.objects.get(pk=saga.order_id).status == OrderStatus.COMPENSATED
    assert [row.routing_key for row in commands(saga)] == ["inventory.reserve", "payment.process", "inventory.release"]
    # Each next command continues the reply's trace, from the span the orders consumer handled it in.
    _, *next_commands = commands(saga)
    assert all(continues(row.traceparent, CALLER_TRACEPARENT) for row in next_commands)
    assert results[1].span.span_id == int(next_commands[1].traceparent.split("-")[2], 16)


@pytest.mark.django_db(databases=ORDERS_DB, transaction=True)
def test_a_reply_delivered_twice_moves_the_saga_once(deliver):
    saga = place()
    message_id = str(uuid.uuid4())

    first = deliver(reserved_event(saga), message_id=message_id)
    second = deliver(reserved_event(saga), message_id=message_id)
    resent = deliver(reserved_event(saga))

    assert (first.outcome, second.outcome, resent.outcome) == (Outcome.OK, Outcome.DUPLICATE, Outcome.OK)
    assert SagaState.objects.get(pk=saga.pk).current_step == SagaStep.PROCESSING_PAYMENT
    assert [row.routing_key for row in commands(saga)] == ["inventory.reserve", "payment.process"]


@pytest.mark.django_db(databases=ORDERS_DB, transaction=True)
def test_a_reply_for_an_unknown_saga_is_dead_lettered_without_effect(deliver):
    saga = place()
    before = snapshot(saga)

    result = deliver(reserved_event(saga, saga_id=uuid.uuid4()))

    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith("unprocessable")
    assert not InboxMessage.objects.using("orders").exists()
    assert snapshot(saga) == before


@pytest.mark.django_db(databases=ORDERS_DB, transaction=True)
def test_a_reply_naming_another_order_is_dead_lettered_without_effect(deliver):
    saga = place()
    other = place()
    before = snapshot(saga)

    result = deliver(reserved_event(saga, order_id=other.order_id))

    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith("unprocessable")
    assert not InboxMessage.objects.using("orders").exists()
    assert snapshot(saga) == before


@pytest.mark.django_db(databases=ORDERS_DB)
def test_a_consumer_batch_writes_its_steps_history_in_one_statement_in_order():
    first, second = place(), place()

    def reply(saga, routing_key, **fields):
        body = {"saga_id": str(saga.saga_id), "order_id": saga.order_id, **fields}
        return signed_delivery(routing_key=routing_key, body=body)

    stock = {"product_id": 42, "quantity": 2, "success": True}
    batch = [
        reply(first, "inventory.reserved", **stock),
        reply(second, "inventory.reserved", **stock),
        reply(first, "payment.processed", transaction_id="tx-1", success=True),
    ]
    with CaptureQueriesContext(connections["orders"]) as queries:
        results = handle_batch(ConsumerSpec.from_settings("orders"), batch)

    assert [result.outcome for result in results] == [Outcome.OK] * 3
    assert [row.event for row in SagaHistory.objects.filter(saga=first).order_by("id")] == [RESERVED, PAID]
    assert [row.event for row in SagaHistory.objects.filter(saga=second).order_by("id")] == [RESERVED]
    history_inserts = [
        query for query in queries.captured_queries if "INSERT INTO" in query["sql"] and "saga_history" in query["sql"]
    ]
    assert len(history_inserts) == 1


@pytest.mark.django_db(databases=ORDERS_DB)
@given(
    user_id=st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.booleans(),
    quantity=st.integers(min_value=0, max_value=2**31 - 1),
    status=st.text(max_size=16) | st.sampled_from(list(OrderStatus)),
    reason=st.text(max_size=255),
    amount=st.decimals(min_value=0, max_value=10**9, places=2),
    at=AWARE_DATETIMES | st.none(),
)
def test_the_lean_writes_prepare_every_order_saga_and_history_value_as_its_field_would(
    user_id, quantity, status, reason, amount, at
):
    order = {"user_id": user_id, "expected_total": amount, "total_amount": amount}
    saga = {"saga_id": uuid.uuid4(), "order_id": user_id, "status": status, "trace_id": reason, "deadline_at": at}
    history = {"saga": quantity + 1, "at": at, "to_status": status, "to_step": status, "event": reason}
    for model, values in (
        (Order, {**order, "status": status, "failure_reason": reason, "created_at": at}),
        (SagaState, {**saga, "current_step": status, "completed_at": at}),
        (SagaHistory, {**history, "message_id": None, "reason": reason, "actor": reason}),
    ):
        fast, slow = prepared_both_ways(model, values)
        assert (fast, [type(value) for value in fast]) == (slow, [type(value) for value in slow]), model
