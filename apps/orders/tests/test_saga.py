"""The saga engine, for every definition: every (status, step, cancelling, event), generated from the definitions.

The placement's table is also written out by hand below, as the behaviour a
reader can check against the design; the rules are checked for every
definition, so a new saga is tested the moment it is registered.
"""

import dataclasses
from decimal import Decimal

import pytest

from apps.messaging.contracts import CONTRACTS, Contract
from apps.orders.models import OrderStatus, SagaStatus, SagaStep
from apps.orders.sagas import (
    CANCEL_REQUESTED,
    COMPENSATION_FORCED,
    DEADLINE_PASSED,
    MACHINES,
    RESOLVED_BY_OPERATOR,
    TERMINAL_STATUSES,
    completion_notices,
    reply_events,
)
from apps.orders.sagas.engine import (
    Action,
    DefinitionError,
    OrderStatuses,
    SagaDefinition,
    SagaMachine,
    Step,
    every_state_event,
)

C, P, F = SagaStatus.COMPENSATING, SagaStatus.IN_PROGRESS, SagaStatus.FAILED

# (status, step, cancelling, event) -> (status, step, order status, commands, cancelling)
PLACEMENT_EXPECTED = {
    (P, "RESERVING_INVENTORY", False, "INVENTORY_RESERVED"): (
        P,
        "PROCESSING_PAYMENT",
        "PENDING",
        ("ProcessPayment",),
        False,
    ),
    (P, "RESERVING_INVENTORY", False, "INVENTORY_RESERVE_FAILED"): (F, "RESERVING_INVENTORY", "FAILED", (), False),
    (P, "RESERVING_INVENTORY", False, DEADLINE_PASSED): (
        C,
        "RELEASING_INVENTORY",
        "FAILED",
        ("ReleaseInventory",),
        False,
    ),
    (P, "RESERVING_INVENTORY", False, COMPENSATION_FORCED): (
        C,
        "RELEASING_INVENTORY",
        "FAILED",
        ("ReleaseInventory",),
        False,
    ),
    (P, "RESERVING_INVENTORY", False, CANCEL_REQUESTED): (
        C,
        "RELEASING_INVENTORY",
        "CANCELLING",
        ("ReleaseInventory",),
        True,
    ),
    (P, "PROCESSING_PAYMENT", False, "PAYMENT_SUCCEEDED"): (
        "COMPLETED",
        "DONE",
        "CONFIRMED",
        ("CommitInventory",),
        False,
    ),
    (P, "PROCESSING_PAYMENT", False, "PAYMENT_FAILED"): (
        C,
        "RELEASING_INVENTORY",
        "FAILED",
        ("ReleaseInventory",),
        False,
    ),
    (P, "PROCESSING_PAYMENT", False, DEADLINE_PASSED): (
        C,
        "REFUNDING_PAYMENT",
        "FAILED",
        ("ReleaseInventory", "RefundPayment"),
        False,
    ),
    (P, "PROCESSING_PAYMENT", False, COMPENSATION_FORCED): (
        C,
        "REFUNDING_PAYMENT",
        "FAILED",
        ("ReleaseInventory", "RefundPayment"),
        False,
    ),
    (P, "PROCESSING_PAYMENT", False, CANCEL_REQUESTED): (
        C,
        "REFUNDING_PAYMENT",
        "CANCELLING",
        ("ReleaseInventory", "RefundPayment"),
        True,
    ),
    (C, "REFUNDING_PAYMENT", False, "PAYMENT_REFUNDED"): (
        C,
        "RELEASING_INVENTORY",
        "FAILED",
        ("ReleaseInventory",),
        False,
    ),
    (C, "REFUNDING_PAYMENT", False, "PAYMENT_REFUND_FAILED"): (F, "REFUNDING_PAYMENT", "FAILED", (), False),
    (C, "REFUNDING_PAYMENT", True, "PAYMENT_REFUNDED"): (
        C,
        "RELEASING_INVENTORY",
        "CANCELLING",
        ("ReleaseInventory",),
        True,
    ),
    (C, "REFUNDING_PAYMENT", True, "PAYMENT_REFUND_FAILED"): (F, "REFUNDING_PAYMENT", "CANCELLING", (), True),
    (C, "RELEASING_INVENTORY", False, "INVENTORY_RELEASED"): ("COMPENSATED", "DONE", "COMPENSATED", (), False),
    (C, "RELEASING_INVENTORY", False, "INVENTORY_RELEASE_FAILED"): (F, "RELEASING_INVENTORY", "FAILED", (), False),
    (C, "RELEASING_INVENTORY", True, "INVENTORY_RELEASED"): ("COMPENSATED", "DONE", "CANCELLED", (), True),
    (C, "RELEASING_INVENTORY", True, "INVENTORY_RELEASE_FAILED"): (F, "RELEASING_INVENTORY", "CANCELLING", (), True),
    (F, "REFUNDING_PAYMENT", False, RESOLVED_BY_OPERATOR): ("RESOLVED", "REFUNDING_PAYMENT", "FAILED", (), False),
    (F, "RELEASING_INVENTORY", False, RESOLVED_BY_OPERATOR): ("RESOLVED", "RELEASING_INVENTORY", "FAILED", (), False),
    (F, "REFUNDING_PAYMENT", True, RESOLVED_BY_OPERATOR): ("RESOLVED", "REFUNDING_PAYMENT", "CANCELLED", (), True),
    (F, "RELEASING_INVENTORY", True, RESOLVED_BY_OPERATOR): ("RESOLVED", "RELEASING_INVENTORY", "CANCELLED", (), True),
}

CANCELLATION_EXPECTED = {
    (P, "REFUNDING_PAYMENT", False, "PAYMENT_REFUNDED"): (
        P,
        "RESTOCKING_INVENTORY",
        "CANCELLING",
        ("RestockInventory",),
        False,
    ),
    (P, "REFUNDING_PAYMENT", False, "PAYMENT_REFUND_FAILED"): (F, "REFUNDING_PAYMENT", "CANCELLING", (), False),
    (P, "RESTOCKING_INVENTORY", False, "INVENTORY_RESTOCKED"): ("COMPLETED", "DONE", "CANCELLED", (), False),
    (P, "RESTOCKING_INVENTORY", False, "INVENTORY_RESTOCK_FAILED"): (
        F,
        "RESTOCKING_INVENTORY",
        "CANCELLING",
        (),
        False,
    ),
    (F, "REFUNDING_PAYMENT", False, RESOLVED_BY_OPERATOR): ("RESOLVED", "REFUNDING_PAYMENT", "CANCELLED", (), False),
    (F, "RESTOCKING_INVENTORY", False, RESOLVED_BY_OPERATOR): (
        "RESOLVED",
        "RESTOCKING_INVENTORY",
        "CANCELLED",
        (),
        False,
    ),
}

EXPECTED = {"placement": PLACEMENT_EXPECTED, "cancellation": CANCELLATION_EXPECTED}

CASES = [(saga_type, *case) for saga_type, machine in MACHINES.items() for case in every_state_event(machine)]


def _shape(transition):
    return (
        transition.status,
        transition.step,
        transition.order_status,
        tuple(command.command.__name__ for command in transition.commands),
        transition.cancelling,
    )


def test_every_definition_has_its_table_written_out():
    assert set(EXPECTED) == set(MACHINES)


@pytest.mark.parametrize(("saga_type", "status", "step", "cancelling", "event"), CASES)
def test_every_state_event_pair_of_every_definition(saga_type, status, step, cancelling, event):
    # Attempts far past any action's limit: the transition a last failure makes.
    transition = MACHINES[saga_type].transition(
        status=status, step=step, cancelling=cancelling, event=event, attempts=100
    )
    expected = EXPECTED[saga_type].get((status, step, cancelling, event))
    if expected is None:
        assert transition is None, "an event for a step the saga is not in must change nothing"
        return
    assert _shape(transition) == expected
    assert transition.terminal == (transition.status in TERMINAL_STATUSES)


@pytest.mark.parametrize("saga_type", list(MACHINES))
def test_the_derived_table_is_exactly_the_written_one(saga_type):
    derived = {key: _shape(transition) for key, transition in MACHINES[saga_type].transitions.items()}
    assert derived == EXPECTED[saga_type]


STOPPED = {
    "placement": {
        (F, "REFUNDING_PAYMENT", False),
        (F, "RELEASING_INVENTORY", False),
        (F, "REFUNDING_PAYMENT", True),
        (F, "RELEASING_INVENTORY", True),
    },
    "cancellation": {(F, "REFUNDING_PAYMENT", False), (F, "RESTOCKING_INVENTORY", False)},
}


@pytest.mark.parametrize("saga_type", list(MACHINES))
def test_a_person_is_needed_exactly_where_a_saga_stopped_short_and_only_there_can_it_be_resolved(saga_type):
    machine = MACHINES[saga_type]
    positions = {(p.status, p.step, p.cancelling) for p in machine.positions()}

    needing = {
        position
        for position in positions
        if machine.needs_person(status=position[0], step=position[1], cancelling=position[2])
    }
    resolvable = {key[:3] for key in machine.transitions if key[3] == RESOLVED_BY_OPERATOR}

    assert needing == STOPPED[saga_type] == resolvable


def test_a_refused_reservation_is_the_placements_answer_not_a_stop():
    assert MACHINES["placement"].needs_person(status=F, step="RESERVING_INVENTORY", cancelling=False) is False


def test_the_placement_starts_by_reserving_and_the_cancellation_by_refunding():
    placement, cancellation = MACHINES["placement"].start, MACHINES["cancellation"].start
    assert _shape(placement) == (P, "RESERVING_INVENTORY", "PENDING", ("ReserveInventory",), False)
    assert _shape(cancellation) == (P, "REFUNDING_PAYMENT", "CANCELLING", ("RefundPayment",), False)


@pytest.mark.parametrize("machine", list(MACHINES.values()), ids=list(MACHINES))
def test_every_non_terminal_position_is_driven_by_the_action_recovery_resends(machine):
    targets = {(t.status, t.step) for t in (machine.start, *machine.transitions.values()) if not t.terminal}
    assert targets == set(machine.actions), "every active position is one recovery can drive, and only those"
    for (status, step), action in machine.actions.items():
        assert machine.step_action(status=status, step=step) is action
        assert action.step == step
    for status in SagaStatus.values:
        for step in SagaStep.values:
            if (status, step) not in machine.actions:
                assert machine.step_action(status=status, step=step) is None


@pytest.mark.parametrize("machine", list(MACHINES.values()), ids=list(MACHINES))
def test_only_compensatable_forward_steps_give_up_at_their_deadline(machine):
    compensatable = {step.action.step for step in machine.definition.steps if step.compensation is not None}
    for status, step, cancelling, event in every_state_event(machine):
        if event != DEADLINE_PASSED:
            continue
        transition = machine.transition(status=status, step=step, cancelling=cancelling, event=event)
        expected = status == P and step in compensatable and not cancelling
        assert (transition is not None) == expected
        if transition is not None:
            assert transition.status == C


def stand_in_order():
    """What a command builder reads of an order: its id, owner, lines and charging saga (loaded by the runtime),
    and prices."""
    line = type("Line", (), {"product_id": 3, "quantity": 2})()
    fields = {"pk": 7, "user_id": 5, "stock_lines": [line], "total_amount": Decimal("9.99"), "charged_by": None}
    return type("Order", (), {**fields, "expected_total": None, "price_overridden": False})()


@pytest.mark.parametrize("machine", list(MACHINES.values()), ids=list(MACHINES))
def test_every_command_is_built_by_its_own_action_and_is_a_known_contract(machine):
    saga = type("Saga", (), {"saga_id": __import__("uuid").uuid4()})()
    order = stand_in_order()
    for command in {c for t in (machine.start, *machine.transitions.values()) for c in t.commands}:
        message = command.make(saga, order)
        assert type(message) is command.command
        assert CONTRACTS[message.routing_key] is command.command
        assert (message.saga_id, message.order_id) == (saga.saga_id, 7)


def test_an_action_whose_builder_makes_another_command_is_an_error():
    placement = MACHINES["placement"].definition
    wrong = dataclasses.replace(placement.steps[1].action, build=placement.steps[0].action.build)
    saga = type("Saga", (), {"saga_id": __import__("uuid").uuid4()})()
    order = stand_in_order()
    with pytest.raises(TypeError, match="must send ProcessPayment"):
        wrong.make(saga, order)


def test_every_reply_has_one_meaning_and_every_reply_and_notice_is_a_known_event_contract():
    replies = reply_events()
    assert set(replies) == {
        "inventory.reserved",
        "inventory.released",
        "inventory.restocked",
        "payment.processed",
        "payment.refunded",
    }
    assert set(completion_notices()) == {"inventory.committed"}
    for routing_key in (*replies, *completion_notices()):
        assert issubclass(CONTRACTS[routing_key], Contract)
        assert "success" in {field.name for field in dataclasses.fields(CONTRACTS[routing_key])}


@pytest.mark.parametrize("machine", list(MACHINES.values()), ids=list(MACHINES))
def test_every_position_implies_one_order_status(machine):
    for position in machine.positions():
        assert (
            machine.order_status(status=position.status, step=position.step, cancelling=position.cancelling)
            in OrderStatus.values
        )


@pytest.mark.parametrize(
    ("saga_type", "status", "cancelling"),
    [("cancellation", P, False), ("placement", C, False), ("placement", C, True)],
)
def test_a_refund_is_tried_again_until_its_attempts_are_spent(saga_type, status, cancelling):
    machine = MACHINES[saga_type]
    refund = machine.step_action(status=status, step="REFUNDING_PAYMENT")
    assert refund.attempts > 1
    for attempts in range(refund.attempts - 1):
        transition = machine.transition(
            status=status,
            step="REFUNDING_PAYMENT",
            cancelling=cancelling,
            event="PAYMENT_REFUND_FAILED",
            attempts=attempts,
        )
        assert (transition.attempt, transition.status, transition.step, transition.commands) == (
            True,
            status,
            "REFUNDING_PAYMENT",
            (),
        )
        assert transition.cancelling == cancelling
    last = machine.transition(
        status=status,
        step="REFUNDING_PAYMENT",
        cancelling=cancelling,
        event="PAYMENT_REFUND_FAILED",
        attempts=refund.attempts - 1,
    )
    assert (last.attempt, last.status) == (False, F)


def test_deadlines_come_from_the_definition_unless_overridden():
    placement = MACHINES["placement"]
    assert placement.deadline("PROCESSING_PAYMENT", {}) == 30.0
    assert placement.deadline("PROCESSING_PAYMENT", {"PROCESSING_PAYMENT": 3.0}) == 3.0
    assert placement.deadline("RESTOCKING_INVENTORY", {}) is None
    assert MACHINES["cancellation"].deadline("RESTOCKING_INVENTORY", {}) == 120.0


def test_a_definition_with_no_steps_or_clashing_actions_is_refused():
    statuses = OrderStatuses(*(OrderStatus.PENDING,) * 6)
    with pytest.raises(DefinitionError, match="at least one step"):
        SagaMachine(SagaDefinition("empty", "", (), statuses, "START"))
    action = MACHINES["placement"].definition.steps[0].action
    clash = dataclasses.replace(action, succeeded="OTHER")
    with pytest.raises(DefinitionError, match="two actions"):
        SagaMachine(SagaDefinition("clash", "", (Step(action), Step(clash)), statuses, "START"))
    assert isinstance(action, Action)
