"""Every contract survives a JSON round trip, ignores unknown fields and refuses bad bodies."""

import json
import uuid
from decimal import Decimal

import pytest

from apps.messaging.contracts import (
    CONTRACTS,
    MAX_LINES,
    CommitInventory,
    InventoryCommitted,
    InventoryReleased,
    InventoryReserved,
    MalformedMessage,
    PaymentProcessed,
    PaymentRefunded,
    ProcessPayment,
    RefundPayment,
    ReleaseInventory,
    ReserveInventory,
    StockLine,
)

SAGA_ID = uuid.UUID("8d3c9a52-5b0e-4c4f-9a55-0a3b7f1d2e11")
ONE = (StockLine(product_id=1001, quantity=2),)
PRICED = (StockLine(product_id=1001, quantity=2, unit_price=Decimal("99.99")),)
TWO = (StockLine(product_id=1001, quantity=2), StockLine(product_id=1002, quantity=1))
EXAMPLES = [
    ReserveInventory(saga_id=SAGA_ID, order_id=7, lines=ONE),
    ReleaseInventory(saga_id=SAGA_ID, order_id=7, lines=ONE),
    InventoryReserved(saga_id=SAGA_ID, order_id=7, lines=PRICED, success=True, currency="USD"),
    InventoryReserved(saga_id=SAGA_ID, order_id=7, lines=ONE, success=False, reason="insufficient stock"),
    InventoryReleased(saga_id=SAGA_ID, order_id=7, lines=(), success=True),
    ProcessPayment(saga_id=SAGA_ID, order_id=7, amount=Decimal("199.98")),
    PaymentProcessed(saga_id=SAGA_ID, order_id=7, transaction_id="txn_1", success=True),
    PaymentProcessed(saga_id=SAGA_ID, order_id=7, transaction_id="txn_2", success=False, reason="payment declined"),
    CommitInventory(saga_id=SAGA_ID, order_id=7, lines=TWO),
    InventoryCommitted(saga_id=SAGA_ID, order_id=7, lines=TWO, success=True),
    ReserveInventory(saga_id=SAGA_ID, order_id=7, lines=TWO, expected_total=Decimal("224.48")),
    ReserveInventory(saga_id=SAGA_ID, order_id=7, lines=ONE, price_override=True),
    ProcessPayment(saga_id=SAGA_ID, order_id=7, amount=Decimal("5.00"), user_id=42),
    RefundPayment(saga_id=SAGA_ID, order_id=7, amount=Decimal("199.98")),
    PaymentRefunded(saga_id=SAGA_ID, order_id=7, transaction_id="rfd_1", success=True),
    PaymentRefunded(saga_id=SAGA_ID, order_id=7, transaction_id="", success=True, reason="nothing was charged"),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda message: type(message).__name__)
def test_round_trip_through_json(message):
    wire = json.dumps(message.to_body())
    assert type(message).from_body(json.loads(wire)) == message
    assert CONTRACTS[message.routing_key] is type(message)


def test_bodies_use_the_seed_field_names():
    assert EXAMPLES[0].to_body() == {
        "saga_id": str(SAGA_ID),
        "order_id": 7,
        "lines": [{"product_id": 1001, "quantity": 2}],
        "product_id": 1001,
        "quantity": 2,
    }
    assert EXAMPLES[2].to_body()["lines"] == [{"product_id": 1001, "quantity": 2, "unit_price": "99.99"}]
    assert EXAMPLES[3].to_body()["reason"] == "insufficient stock"
    assert "reason" not in EXAMPLES[2].to_body()
    assert EXAMPLES[5].to_body()["amount"] == 199.98


def test_the_seed_single_product_body_reads_as_one_line():
    body = {"saga_id": str(SAGA_ID), "order_id": 7, "product_id": 1001, "quantity": 2}
    assert ReserveInventory.from_body(body) == EXAMPLES[0]


def test_many_lines_carry_no_top_level_product():
    body = EXAMPLES[8].to_body()
    assert "product_id" not in body
    assert body["lines"] == [{"product_id": 1001, "quantity": 2}, {"product_id": 1002, "quantity": 1}]


def test_unknown_fields_are_ignored():
    body = {**EXAMPLES[0].to_body(), "priority": "high", "version": 9}
    assert ReserveInventory.from_body(body) == EXAMPLES[0]


@pytest.mark.parametrize(
    ("contract", "body"),
    [
        (ReserveInventory, []),
        (ReserveInventory, "text"),
        (ReserveInventory, {"order_id": 7, "product_id": 1, "quantity": 1}),
        (ReserveInventory, {"saga_id": "not-a-uuid", "order_id": 7, "product_id": 1, "quantity": 1}),
        (ReserveInventory, {"saga_id": str(SAGA_ID), "order_id": "7", "product_id": 1, "quantity": 1}),
        (ReserveInventory, {"saga_id": str(SAGA_ID), "order_id": True, "product_id": 1, "quantity": 1}),
        (ReserveInventory, {"saga_id": str(SAGA_ID), "order_id": 7, "product_id": 1, "quantity": 0}),
        (ReserveInventory, {"saga_id": str(SAGA_ID), "order_id": 7, "product_id": 1, "quantity": 1.5}),
        (ReserveInventory, {"saga_id": str(SAGA_ID), "order_id": 7, "lines": []}),
        (ReserveInventory, {"saga_id": str(SAGA_ID), "order_id": 7, "lines": "1001x2"}),
        (ReserveInventory, {"saga_id": str(SAGA_ID), "order_id": 7, "lines": [[1001, 2]]}),
        (
            ReserveInventory,
            {"saga_id": str(SAGA_ID), "order_id": 7, "lines": [{"product_id": 1, "quantity": 1}] * 2},
        ),
        (
            ReserveInventory,
            {
                "saga_id": str(SAGA_ID),
                "order_id": 7,
                "lines": [{"product_id": n, "quantity": 1} for n in range(1, MAX_LINES + 2)],
            },
        ),
        (
            ReserveInventory,
            {"saga_id": str(SAGA_ID), "order_id": 7, "product_id": 1, "quantity": 1, "price_override": "yes"},
        ),
        (
            InventoryReserved,
            {"saga_id": str(SAGA_ID), "order_id": 7, "lines": [], "success": True, "currency": "dollars"},
        ),
        (
            InventoryReserved,
            {
                "saga_id": str(SAGA_ID),
                "order_id": 7,
                "lines": [{"product_id": 1, "quantity": 1, "unit_price": "free"}],
                "success": True,
            },
        ),
        (ProcessPayment, {"saga_id": str(SAGA_ID), "order_id": 7, "amount": -1}),
        (ProcessPayment, {"saga_id": str(SAGA_ID), "order_id": 7, "amount": 1, "user_id": "alice"}),
        (ProcessPayment, {"saga_id": str(SAGA_ID), "order_id": 7, "amount": "NaN"}),
        (ProcessPayment, {"saga_id": str(SAGA_ID), "order_id": 7, "amount": "lots"}),
        (InventoryReserved, {"saga_id": str(SAGA_ID), "order_id": 7, "product_id": 1, "quantity": 1}),
        (InventoryReserved, {"saga_id": str(SAGA_ID), "order_id": 7, "product_id": 1, "quantity": 1, "success": 1}),
        (PaymentProcessed, {"saga_id": str(SAGA_ID), "order_id": 7, "transaction_id": 5, "success": True}),
    ],
)
def test_malformed_bodies_are_refused(contract, body):
    with pytest.raises(MalformedMessage):
        contract.from_body(body)


def test_new_contracts_keep_the_seed_field_names_and_their_own_routing_keys():
    assert RefundPayment(saga_id=SAGA_ID, order_id=7, amount=Decimal("5.00")).to_body() == {
        "saga_id": str(SAGA_ID),
        "order_id": 7,
        "amount": 5.0,
    }
    assert (RefundPayment.routing_key, RefundPayment.exchange) == ("payment.refund", "saga.commands")
    assert (PaymentRefunded.routing_key, PaymentRefunded.exchange) == ("payment.refunded", "saga.events")
    assert (CommitInventory.routing_key, CommitInventory.exchange) == ("inventory.commit", "saga.commands")
    assert (InventoryCommitted.routing_key, InventoryCommitted.exchange) == ("inventory.committed", "saga.events")


@pytest.mark.parametrize(
    ("contract", "changes"),
    [
        (ReserveInventory, {"order_id": 2**63}),
        (ReserveInventory, {"product_id": 2**64}),
        (ReserveInventory, {"quantity": 2**31}),
        (ProcessPayment, {"amount": "0.001"}),
        (ProcessPayment, {"amount": 1e10}),
        (ProcessPayment, {"amount": "1E+999999"}),
        (InventoryReserved, {"reason": "\ud800"}),
        (PaymentProcessed, {"transaction_id": "\udfff"}),
    ],
)
def test_values_no_database_column_can_hold_are_refused(contract, changes):
    body = {
        "saga_id": str(SAGA_ID),
        "order_id": 7,
        "product_id": 1001,
        "quantity": 2,
        "amount": 10,
        "success": True,
        "transaction_id": "txn_1",
        **changes,
    }

    with pytest.raises(MalformedMessage):
        contract.from_body(json.loads(json.dumps(body)))


def test_the_largest_values_the_columns_hold_are_accepted():
    body = {"saga_id": str(SAGA_ID), "order_id": 2**63 - 1, "product_id": 2**63 - 1, "quantity": 2**31 - 1}
    assert ReleaseInventory.from_body(body).lines[0].quantity == 2**31 - 1
    assert ProcessPayment.from_body({**body, "amount": "9999999999.99"}).amount == Decimal("9999999999.99")


@pytest.mark.parametrize(
    ("lines", "refusal"),
    [
        ([{"product_id": 1, "quantity": 10_001}], "more than the API's 10000 units a line"),
        ([{"product_id": n, "quantity": 1} for n in range(1, 5)], "more than the API's 3 lines"),
    ],
)
def test_a_reservation_beyond_the_apis_limits_is_malformed(settings, lines, refusal):
    settings.ORDER_MAX_QUANTITY, settings.ORDER_MAX_LINES = 10_000, 3
    body = {"saga_id": str(SAGA_ID), "order_id": 1, "lines": lines}
    with pytest.raises(MalformedMessage, match=refusal):
        ReserveInventory.from_body(body)
    # Giving stock back keeps the column's limits: it moves only what a reservation logged.
    assert ReleaseInventory.from_body(body).lines == tuple(StockLine(**line) for line in lines)
