"""The state machine, every (status, step, event) pair."""

import itertools

import pytest

from apps.orders.models import OrderStatus, SagaStatus, SagaStep
from apps.orders.saga import (
    START,
    TERMINAL_STATUSES,
    TRANSITIONS,
    SagaCommand,
    SagaEvent,
    saga_step_command,
    saga_transition,
)

EXPECTED = {
    ("IN_PROGRESS", "RESERVING_INVENTORY", "INVENTORY_RESERVED"): (
        "IN_PROGRESS",
        "PROCESSING_PAYMENT",
        "PENDING",
        ("PROCESS_PAYMENT",),
    ),
    ("IN_PROGRESS", "RESERVING_INVENTORY", "INVENTORY_RESERVE_FAILED"): (
        "FAILED",
        "RESERVING_INVENTORY",
        "FAILED",
        (),
    ),
    ("IN_PROGRESS", "RESERVING_INVENTORY", "DEADLINE_PASSED"): (
        "COMPENSATING",
        "RELEASING_INVENTORY",
        "FAILED",
        ("RELEASE_INVENTORY",),
    ),
    ("IN_PROGRESS", "RESERVING_INVENTORY", "COMPENSATION_FORCED"): (
        "COMPENSATING",
        "RELEASING_INVENTORY",
        "FAILED",
        ("RELEASE_INVENTORY",),
    ),
    ("IN_PROGRESS", "PROCESSING_PAYMENT", "PAYMENT_SUCCEEDED"): (
        "COMPLETED",
        "DONE",
        "CONFIRMED",
        ("COMMIT_INVENTORY",),
    ),
    ("IN_PROGRESS", "PROCESSING_PAYMENT", "PAYMENT_FAILED"): (
        "COMPENSATING",
        "RELEASING_INVENTORY",
        "FAILED",
        ("RELEASE_INVENTORY",),
    ),
    ("IN_PROGRESS", "PROCESSING_PAYMENT", "DEADLINE_PASSED"): (
        "COMPENSATING",
        "REFUNDING_PAYMENT",
        "FAILED",
        ("RELEASE_INVENTORY", "REFUND_PAYMENT"),
    ),
    ("IN_PROGRESS", "PROCESSING_PAYMENT", "COMPENSATION_FORCED"): (
        "COMPENSATING",
        "REFUNDING_PAYMENT",
        "FAILED",
        ("RELEASE_INVENTORY", "REFUND_PAYMENT"),
    ),
    ("COMPENSATING", "REFUNDING_PAYMENT", "PAYMENT_REFUNDED"): (
        "COMPENSATING",
        "RELEASING_INVENTORY",
        "FAILED",
        ("RELEASE_INVENTORY",),
    ),
    ("COMPENSATING", "REFUNDING_PAYMENT", "PAYMENT_REFUND_FAILED"): ("FAILED", "REFUNDING_PAYMENT", "FAILED", ()),
    ("FAILED", "RESERVING_INVENTORY", "RESOLVED_BY_OPERATOR"): ("RESOLVED", "RESERVING_INVENTORY", "FAILED", ()),
    ("FAILED", "REFUNDING_PAYMENT", "RESOLVED_BY_OPERATOR"): ("RESOLVED", "REFUNDING_PAYMENT", "FAILED", ()),
    ("FAILED", "RELEASING_INVENTORY", "RESOLVED_BY_OPERATOR"): ("RESOLVED", "RELEASING_INVENTORY", "FAILED", ()),
    ("COMPENSATING", "RELEASING_INVENTORY", "INVENTORY_RELEASED"): ("COMPENSATED", "DONE", "COMPENSATED", ()),
    ("COMPENSATING", "RELEASING_INVENTORY", "INVENTORY_RELEASE_FAILED"): (
        "FAILED",
        "RELEASING_INVENTORY",
        "FAILED",
        (),
    ),
}

ALL_PAIRS = list(itertools.product(SagaStatus.values, SagaStep.values, [event.value for event in SagaEvent]))


@pytest.mark.parametrize(("status", "step", "event"), ALL_PAIRS)
def test_every_state_event_pair(status, step, event):
    transition = saga_transition(status=status, step=step, event=SagaEvent(event))
    expected = EXPECTED.get((status, step, event))
    if expected is None:
        assert transition is None, "an event for a step the saga is not in must change nothing"
        return
    assert (transition.status, transition.step, transition.order_status, transition.commands) == (
        expected[0],
        expected[1],
        expected[2],
        tuple(SagaCommand(command) for command in expected[3]),
    )
    assert transition.terminal == (transition.status in TERMINAL_STATUSES)


def test_start_reserves_inventory_for_a_pending_order():
    assert (START.status, START.step, START.order_status, START.commands) == (
        SagaStatus.IN_PROGRESS,
        SagaStep.RESERVING_INVENTORY,
        OrderStatus.PENDING,
        (SagaCommand.RESERVE_INVENTORY,),
    )


@pytest.mark.parametrize(("status", "step"), list(itertools.product(SagaStatus.values, SagaStep.values)))
def test_recovery_resends_only_the_active_steps_command(status, step):
    expected = {
        ("IN_PROGRESS", "RESERVING_INVENTORY"): SagaCommand.RESERVE_INVENTORY,
        ("IN_PROGRESS", "PROCESSING_PAYMENT"): SagaCommand.PROCESS_PAYMENT,
        ("COMPENSATING", "REFUNDING_PAYMENT"): SagaCommand.REFUND_PAYMENT,
        ("COMPENSATING", "RELEASING_INVENTORY"): SagaCommand.RELEASE_INVENTORY,
    }
    command = saga_step_command(status=status, step=step)
    if status in ("IN_PROGRESS", "COMPENSATING"):
        assert command == expected.get((status, step))
    else:
        assert command is None


def test_every_active_step_is_driven_by_a_command_and_every_terminal_status_ends_it():
    driven = {(status, step) for status, step in itertools.product(SagaStatus.values, SagaStep.values)}
    driven = {pair for pair in driven if saga_step_command(status=pair[0], step=pair[1]) is not None}
    targets = {(t.status, t.step) for t in (START, *TRANSITIONS.values()) if not t.terminal}
    assert targets == driven, "every non-terminal state a transition leads to is one recovery can drive"


def test_forward_steps_compensate_at_their_deadline_and_compensating_steps_do_not():
    for status, step in itertools.product(SagaStatus.values, SagaStep.values):
        transition = saga_transition(status=status, step=step, event=SagaEvent.DEADLINE_PASSED)
        forward = status == "IN_PROGRESS" and step in ("RESERVING_INVENTORY", "PROCESSING_PAYMENT")
        assert (transition is not None) == forward
        if transition is not None:
            assert transition.status == SagaStatus.COMPENSATING
