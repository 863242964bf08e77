"""Inventory's services and handlers: reserve, release, stock levels, and their replies."""

import dataclasses
import json
import uuid

import pytest
from django.db import transaction

from apps.common.tests.tracing import CALLER_TRACEPARENT, continues, in_span
from apps.inventory.handlers import on_release, on_reserve
from apps.inventory.models import Inventory, InventoryAction, InventoryLog, InventoryOutcome
from apps.inventory.services import (
    ProductExists,
    ProductNotFound,
    StockDecision,
    StockLine,
    VersionConflict,
    inventory_create,
    inventory_release,
    inventory_reserve,
    inventory_set_available,
)
from apps.inventory.tests.stock import PRICE, decided, wire
from apps.messaging.consumer import ConsumerSpec, HandlerContext, Outcome, handle_delivery
from apps.messaging.contracts import InventoryReleased, InventoryReserved, ReleaseInventory, ReserveInventory
from apps.messaging.models import InboxMessage, OutboxMessage
from apps.messaging.tests.signed import signed_delivery

INVENTORY_DB = ["inventory"]
SAGA_ID = uuid.UUID("5b0f3c1e-7d2a-4e8b-9f61-2c4d8a7e0b13")


def reserve(*, order_id: int, product_id: int, quantity: int) -> StockDecision:
    # The consumer's transaction, which the handler-called service expects to run in.
    with transaction.atomic(using="inventory"):
        return inventory_reserve(order_id=order_id, lines=[StockLine(product_id, quantity)])


def release(*, order_id: int, product_id: int) -> StockDecision:
    with transaction.atomic(using="inventory"):
        return inventory_release(order_id=order_id, lines=[StockLine(product_id, 1)])


def stock(product_id: int) -> tuple[int, int]:
    row = Inventory.objects.get(product_id=product_id)
    return row.available_qty, row.reserved_qty


def version(product_id: int) -> int:
    return Inventory.objects.get(product_id=product_id).version


def logs(order_id: int) -> list[tuple[str, str, int, int, str]]:
    return list(
        InventoryLog.objects.filter(order_id=order_id)
        .order_by("id")
        .values_list("action", "outcome", "product_id", "quantity", "reason")
    )


def replies() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.using("inventory").order_by("id"))


def context(routing_key: str) -> HandlerContext:
    return HandlerContext(using="inventory", message_id=uuid.uuid4(), routing_key=routing_key)


# --- reserve -----------------------------------------------------------------


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_reserve_takes_stock_and_logs_the_reservation():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)

    decision = reserve(order_id=100, product_id=1, quantity=3)

    assert decision == decided(True, 1, 3, priced=True)
    row = Inventory.objects.get(product_id=1)
    assert (row.available_qty, row.reserved_qty, row.version) == (7, 3, 2)
    assert logs(100) == [(InventoryAction.RESERVE, InventoryOutcome.APPLIED, 1, 3, "")]


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_reserve_of_exactly_the_available_stock_takes_all_of_it():
    Inventory.objects.create(product_id=1, available_qty=4, unit_price=PRICE)

    decision = reserve(order_id=100, product_id=1, quantity=4)

    assert decision.success is True
    assert stock(1) == (0, 4)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_reserve_beyond_the_available_stock_is_rejected_and_leaves_stock_alone():
    Inventory.objects.create(product_id=1, available_qty=2, unit_price=PRICE)

    decision = reserve(order_id=100, product_id=1, quantity=3)

    assert decision == decided(False, 1, 3, "insufficient stock")
    assert stock(1) == (2, 0)
    assert version(1) == 1
    assert logs(100) == [(InventoryAction.RESERVE, InventoryOutcome.REJECTED, 1, 3, "insufficient stock")]


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_reserve_of_an_unknown_product_is_rejected():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)

    decision = reserve(order_id=100, product_id=999, quantity=1)

    assert decision == decided(False, 999, 1, "product not found")
    assert stock(1) == (10, 0)
    assert logs(100) == [(InventoryAction.RESERVE, InventoryOutcome.REJECTED, 999, 1, "product not found")]


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_repeated_reserve_returns_the_first_decision_without_taking_stock_again():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    first = reserve(order_id=100, product_id=1, quantity=3)

    again = reserve(order_id=100, product_id=1, quantity=3)

    assert again == first
    assert stock(1) == (7, 3)
    assert version(1) == 2
    assert len(logs(100)) == 1


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_repeated_reserve_stays_rejected_even_after_a_restock():
    Inventory.objects.create(product_id=1, available_qty=2, unit_price=PRICE)
    first = reserve(order_id=100, product_id=1, quantity=3)
    inventory_set_available(product_id=1, available_qty=50)

    again = reserve(order_id=100, product_id=1, quantity=3)

    assert again == first == decided(False, 1, 3, "insufficient stock")
    assert stock(1) == (50, 0)
    assert logs(100) == [(InventoryAction.RESERVE, InventoryOutcome.REJECTED, 1, 3, "insufficient stock")]


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_reserves_of_different_orders_each_take_their_share():
    Inventory.objects.create(product_id=1, available_qty=5, unit_price=PRICE)

    decisions = [reserve(order_id=order_id, product_id=1, quantity=2) for order_id in (100, 101, 102)]

    assert [decision.success for decision in decisions] == [True, True, False]
    assert decisions[2].reason == "insufficient stock"
    assert stock(1) == (1, 4)


# --- release -----------------------------------------------------------------


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_release_gives_back_exactly_what_the_order_reserved():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    reserve(order_id=100, product_id=1, quantity=3)

    decision = release(order_id=100, product_id=1)

    assert decision == decided(True, 1, 3)
    assert stock(1) == (10, 0)
    assert logs(100) == [
        (InventoryAction.RESERVE, InventoryOutcome.APPLIED, 1, 3, ""),
        (InventoryAction.RELEASE, InventoryOutcome.APPLIED, 1, 3, ""),
    ]


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_release_uses_the_reservation_log_not_the_product_it_is_asked_about():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    Inventory.objects.create(product_id=2, available_qty=10, unit_price=PRICE)
    reserve(order_id=100, product_id=1, quantity=3)

    decision = release(order_id=100, product_id=2)

    assert decision == decided(True, 1, 3)
    assert stock(1) == (10, 0)
    assert stock(2) == (10, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_repeated_release_gives_back_only_once():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    reserve(order_id=100, product_id=1, quantity=3)
    reserve(order_id=101, product_id=1, quantity=2)
    first = release(order_id=100, product_id=1)

    again = release(order_id=100, product_id=1)

    assert again == first
    # Order 101 still holds its two units: the second release took nothing from it.
    assert stock(1) == (8, 2)
    assert [action for action, *_ in logs(100)] == [InventoryAction.RESERVE, InventoryAction.RELEASE]


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_release_with_nothing_reserved_succeeds_with_zero_and_refuses_a_later_reserve():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)

    released = release(order_id=100, product_id=1)
    late = reserve(order_id=100, product_id=1, quantity=3)

    assert released == decided(True, 1, 0, "nothing was reserved")
    assert late == decided(False, 1, 3, "order already released")
    assert stock(1) == (10, 0)
    assert logs(100) == [
        (InventoryAction.RELEASE, InventoryOutcome.APPLIED, 1, 0, "nothing was reserved"),
        (InventoryAction.RESERVE, InventoryOutcome.REJECTED, 1, 3, "order already released"),
    ]
    assert reserve(order_id=100, product_id=1, quantity=3) == late
    assert stock(1) == (10, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_release_after_a_rejected_reserve_gives_back_nothing():
    Inventory.objects.create(product_id=1, available_qty=2, unit_price=PRICE)
    reserve(order_id=100, product_id=1, quantity=3)

    decision = release(order_id=100, product_id=1)

    assert decision == decided(True, 1, 0, "nothing was reserved")
    assert stock(1) == (2, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_release_when_the_reserved_stock_is_missing_is_rejected():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    reserve(order_id=100, product_id=1, quantity=3)
    Inventory.objects.filter(product_id=1).update(reserved_qty=1)

    decision = release(order_id=100, product_id=1)

    assert decision == decided(False, 1, 3, "reserved stock is missing")
    assert stock(1) == (7, 1)
    assert logs(100)[-1] == (InventoryAction.RELEASE, InventoryOutcome.REJECTED, 1, 3, "reserved stock is missing")
    assert release(order_id=100, product_id=1) == decision


# --- stock levels --------------------------------------------------------------


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_create_adds_a_product_with_its_stock():
    created = inventory_create(product_id=1, available_qty=25)

    assert (created.product_id, created.available_qty, created.reserved_qty, created.version) == (1, 25, 0, 1)
    assert stock(1) == (25, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_create_of_an_existing_product_raises_product_exists():
    inventory_create(product_id=1, available_qty=25)

    with pytest.raises(ProductExists):
        inventory_create(product_id=1, available_qty=99)

    assert stock(1) == (25, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_set_available_with_the_current_version_sets_stock_and_moves_the_version():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)

    updated = inventory_set_available(product_id=1, available_qty=40, expected_version=1)

    assert (updated.available_qty, updated.version) == (40, 2)
    assert stock(1) == (40, 0)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_set_available_with_a_stale_version_raises_version_conflict():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    reserve(order_id=100, product_id=1, quantity=1)

    with pytest.raises(VersionConflict):
        inventory_set_available(product_id=1, available_qty=40, expected_version=1)

    assert stock(1) == (9, 1)
    assert version(1) == 2


@pytest.mark.parametrize("expected_version", [None, 1])
@pytest.mark.django_db(databases=INVENTORY_DB)
def test_set_available_of_an_unknown_product_raises_product_not_found(expected_version):
    with pytest.raises(ProductNotFound):
        inventory_set_available(product_id=999, available_qty=40, expected_version=expected_version)

    assert not Inventory.objects.exists()


# --- handlers ------------------------------------------------------------------


@pytest.mark.django_db(databases=["inventory", "orders", "payments"])
def test_on_reserve_replies_once_with_the_decision():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    command = ReserveInventory(saga_id=SAGA_ID, order_id=100, lines=wire(1, 3))

    with transaction.atomic(using="inventory"), in_span() as handling:
        on_reserve(command, context(command.routing_key))

    [row] = replies()
    assert (row.exchange, row.routing_key, row.message_type) == (
        "saga.events",
        "inventory.reserved",
        "InventoryReserved",
    )
    assert (row.saga_id, row.traceparent, row.dispatched_at) == (SAGA_ID, handling, None)
    assert InventoryReserved.from_body(row.payload) == InventoryReserved(
        saga_id=SAGA_ID, order_id=100, lines=wire(1, 3, PRICE), success=True, currency="USD"
    )
    assert row.payload == {
        "saga_id": str(SAGA_ID),
        "order_id": 100,
        "lines": [{"product_id": 1, "quantity": 3, "unit_price": "2.50"}],
        "product_id": 1,
        "quantity": 3,
        "success": True,
        "currency": "USD",
    }
    assert not OutboxMessage.objects.using("orders").exists()
    assert not OutboxMessage.objects.using("payments").exists()


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_on_reserve_replies_with_the_rejection_reason():
    Inventory.objects.create(product_id=1, available_qty=2, unit_price=PRICE)
    command = ReserveInventory(saga_id=SAGA_ID, order_id=100, lines=wire(1, 3))

    with transaction.atomic(using="inventory"):
        on_reserve(command, context(command.routing_key))

    [row] = replies()
    assert InventoryReserved.from_body(row.payload) == InventoryReserved(
        saga_id=SAGA_ID, order_id=100, lines=wire(1, 3), success=False, reason="insufficient stock"
    )


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_on_release_replies_with_what_the_log_gave_back():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    Inventory.objects.create(product_id=2, available_qty=10, unit_price=PRICE)
    reserve(order_id=100, product_id=1, quantity=3)
    command = ReleaseInventory(saga_id=SAGA_ID, order_id=100, lines=wire(2, 7))

    with transaction.atomic(using="inventory"), in_span() as handling:
        on_release(command, context(command.routing_key))

    assert stock(1) == (10, 0)
    assert stock(2) == (10, 0)
    [row] = replies()
    assert (row.exchange, row.routing_key, row.message_type) == (
        "saga.events",
        "inventory.released",
        "InventoryReleased",
    )
    assert (row.saga_id, row.traceparent) == (SAGA_ID, handling)
    assert InventoryReleased.from_body(row.payload) == InventoryReleased(
        saga_id=SAGA_ID, order_id=100, lines=wire(1, 3), success=True
    )


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_on_release_of_an_order_that_reserved_nothing_replies_with_zero():
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    command = ReleaseInventory(saga_id=SAGA_ID, order_id=100, lines=wire(1, 3))

    with transaction.atomic(using="inventory"):
        on_release(command, context(command.routing_key))

    [row] = replies()
    assert InventoryReleased.from_body(row.payload) == InventoryReleased(
        saga_id=SAGA_ID, order_id=100, lines=wire(1, 0), success=True, reason="nothing was reserved"
    )


# --- the full consumer path ------------------------------------------------------


@pytest.fixture
def deliver():
    """Hand a delivery to the inventory consumer, as its worker would."""
    spec = ConsumerSpec.from_settings("inventory")

    def send(message, *, message_id: str | None = None, body: bytes | None = None):
        delivery = signed_delivery(
            routing_key=message.routing_key,
            body=message.to_body(),
            message_id=message_id,
            headers={"traceparent": CALLER_TRACEPARENT},
        )
        if body is not None:
            delivery = dataclasses.replace(delivery, body=body)
        return handle_delivery(spec, delivery)

    return send


@pytest.mark.django_db(databases=INVENTORY_DB, transaction=True)
def test_a_delivery_seen_twice_takes_effect_once(deliver):
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    command = ReserveInventory(saga_id=SAGA_ID, order_id=100, lines=wire(1, 3))
    message_id = str(uuid.uuid4())

    first = deliver(command, message_id=message_id)
    second = deliver(command, message_id=message_id)

    assert first.outcome is Outcome.OK
    assert second.outcome is Outcome.DUPLICATE
    assert stock(1) == (7, 3)
    assert InboxMessage.objects.using("inventory").count() == 1
    [row] = replies()
    # The reply continues the command's trace, from the span the consumer handled it in.
    assert continues(row.traceparent, CALLER_TRACEPARENT)
    assert InventoryReserved.from_body(row.payload).success is True


@pytest.mark.django_db(databases=INVENTORY_DB, transaction=True)
def test_a_recovery_resend_gets_the_same_answer_without_moving_stock_again(deliver):
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    command = ReserveInventory(saga_id=SAGA_ID, order_id=100, lines=wire(1, 3))

    first = deliver(command)
    resent = deliver(command)

    assert (first.outcome, resent.outcome) == (Outcome.OK, Outcome.OK)
    assert stock(1) == (7, 3)
    assert InboxMessage.objects.using("inventory").count() == 2
    original, again = replies()
    assert original.message_id != again.message_id
    assert again.payload == original.payload
    assert InventoryReserved.from_body(again.payload) == InventoryReserved(
        saga_id=SAGA_ID, order_id=100, lines=wire(1, 3, PRICE), success=True, currency="USD"
    )


@pytest.mark.django_db(databases=INVENTORY_DB, transaction=True)
def test_a_recovery_resend_of_a_release_gives_back_only_once(deliver):
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    deliver(ReserveInventory(saga_id=SAGA_ID, order_id=100, lines=wire(1, 3)))
    command = ReleaseInventory(saga_id=SAGA_ID, order_id=100, lines=wire(1, 3))

    first = deliver(command)
    resent = deliver(command)

    assert (first.outcome, resent.outcome) == (Outcome.OK, Outcome.OK)
    assert stock(1) == (10, 0)
    _, original, again = replies()
    assert again.payload == original.payload
    assert InventoryReleased.from_body(again.payload).lines == wire(1, 3)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", json.dumps({"saga_id": str(SAGA_ID), "order_id": 100, "product_id": 1}).encode()],
    ids=["not-json", "not-an-object", "missing-quantity"],
)
@pytest.mark.django_db(databases=INVENTORY_DB, transaction=True)
def test_a_malformed_delivery_is_dead_lettered_without_effect(deliver, body):
    Inventory.objects.create(product_id=1, available_qty=10, unit_price=PRICE)
    command = ReserveInventory(saga_id=SAGA_ID, order_id=100, lines=wire(1, 3))

    result = deliver(command, body=body)

    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith("malformed message")
    assert stock(1) == (10, 0)
    assert not InboxMessage.objects.using("inventory").exists()
    assert not InventoryLog.objects.exists()
    assert replies() == []
