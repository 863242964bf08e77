"""The orders app's sagas: one definition per module, and the machines the engine derives from them."""

from apps.orders.sagas.cancellation import CANCELLATION
from apps.orders.sagas.engine import (
    ACTIVE_STATUSES,
    CANCEL_REQUESTED,
    COMPENSATION_FORCED,
    DEADLINE_PASSED,
    RESOLVED_BY_OPERATOR,
    TERMINAL_STATUSES,
    Action,
    Notice,
    SagaMachine,
    Transition,
)
from apps.orders.sagas.placement import PLACEMENT

MACHINES: dict[str, SagaMachine] = {
    definition.saga_type: SagaMachine(definition) for definition in (PLACEMENT, CANCELLATION)
}


class UnknownSagaType(LookupError):
    """A saga row names a type no definition has."""


def machine_for(saga_type: str) -> SagaMachine:
    """The machine of ``saga_type``; raises UnknownSagaType."""
    try:
        return MACHINES[saga_type]
    except KeyError:
        raise UnknownSagaType(saga_type) from None


def reply_events() -> dict[str, tuple[str, str]]:
    """Every reply any saga waits for -> (event on success, event on failure); one meaning per reply."""
    events: dict[str, tuple[str, str]] = {}
    for machine in MACHINES.values():
        for routing_key, pair in machine.replies().items():
            if events.setdefault(routing_key, pair) != pair:
                raise ValueError(f"{routing_key} means {events[routing_key]} in one saga and {pair} in another")
    return events


def completion_notices() -> dict[str, Notice]:
    """Every reply to a completion notice -> its notice."""
    return {key: notice for machine in MACHINES.values() for key, notice in machine.notices().items()}


__all__ = [
    "ACTIVE_STATUSES",
    "CANCEL_REQUESTED",
    "COMPENSATION_FORCED",
    "DEADLINE_PASSED",
    "MACHINES",
    "RESOLVED_BY_OPERATOR",
    "TERMINAL_STATUSES",
    "Action",
    "Transition",
    "UnknownSagaType",
    "completion_notices",
    "machine_for",
    "reply_events",
]
