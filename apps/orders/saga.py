"""The saga's state machine as a pure function: (status, step, event) -> transition or no-op.

No database, no broker, no clock: every (state, event) pair is tested. A
terminal saga keeps DONE as its step, except a FAILED (or RESOLVED) one, which
keeps the step it failed in so an operator sees where it stopped
(RELEASING_INVENTORY or REFUNDING_PAYMENT mean stock or money may be held and
need a person).

Deadlines and operator actions are events like any reply: DEADLINE_PASSED and
COMPENSATION_FORCED compensate a forward step; RESOLVED_BY_OPERATOR closes a
FAILED saga. Compensating steps have no deadline transition: they are retried
(recovery, or an operator) until they answer.
"""

import dataclasses
import enum

from apps.orders.models import OrderStatus, SagaStatus, SagaStep


class SagaEvent(enum.StrEnum):
    INVENTORY_RESERVED = "INVENTORY_RESERVED"
    INVENTORY_RESERVE_FAILED = "INVENTORY_RESERVE_FAILED"
    PAYMENT_SUCCEEDED = "PAYMENT_SUCCEEDED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PAYMENT_REFUNDED = "PAYMENT_REFUNDED"
    PAYMENT_REFUND_FAILED = "PAYMENT_REFUND_FAILED"
    INVENTORY_RELEASED = "INVENTORY_RELEASED"
    INVENTORY_RELEASE_FAILED = "INVENTORY_RELEASE_FAILED"
    DEADLINE_PASSED = "DEADLINE_PASSED"
    COMPENSATION_FORCED = "COMPENSATION_FORCED"
    RESOLVED_BY_OPERATOR = "RESOLVED_BY_OPERATOR"


class SagaCommand(enum.StrEnum):
    RESERVE_INVENTORY = "RESERVE_INVENTORY"
    PROCESS_PAYMENT = "PROCESS_PAYMENT"
    REFUND_PAYMENT = "REFUND_PAYMENT"
    RELEASE_INVENTORY = "RELEASE_INVENTORY"
    COMMIT_INVENTORY = "COMMIT_INVENTORY"


@dataclasses.dataclass(frozen=True)
class Transition:
    status: SagaStatus
    step: SagaStep
    order_status: OrderStatus
    commands: tuple[SagaCommand, ...] = ()

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED, SagaStatus.RESOLVED})
ACTIVE_STATUSES = frozenset({SagaStatus.IN_PROGRESS, SagaStatus.COMPENSATING})

# The first entry of every saga's timeline: derived from the saga row (apps.orders.selectors.saga_history).
ORDER_PLACED = "ORDER_PLACED"

START = Transition(
    SagaStatus.IN_PROGRESS, SagaStep.RESERVING_INVENTORY, OrderStatus.PENDING, (SagaCommand.RESERVE_INVENTORY,)
)

_RESERVING = (SagaStatus.IN_PROGRESS, SagaStep.RESERVING_INVENTORY)
_PAYING = (SagaStatus.IN_PROGRESS, SagaStep.PROCESSING_PAYMENT)
_REFUNDING = (SagaStatus.COMPENSATING, SagaStep.REFUNDING_PAYMENT)
_RELEASING = (SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY)

# Reserving gave no answer in time: release, in case the reservation landed late
# (the release also refuses any reservation still on its way).
_ABANDON_RESERVING = Transition(
    SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED, (SagaCommand.RELEASE_INVENTORY,)
)
# Payment gave no answer in time: give the stock back at once, and refund
# whatever was charged (the refund also refuses any charge still on its way).
# The release's answer comes while the saga waits for the refund and changes
# nothing; after the refund the release is sent again and answered from
# inventory's log, so the saga ends only once both are done.
_ABANDON_PAYING = Transition(
    SagaStatus.COMPENSATING,
    SagaStep.REFUNDING_PAYMENT,
    OrderStatus.FAILED,
    (SagaCommand.RELEASE_INVENTORY, SagaCommand.REFUND_PAYMENT),
)

TRANSITIONS: dict[tuple[SagaStatus, SagaStep, SagaEvent], Transition] = {
    (*_RESERVING, SagaEvent.INVENTORY_RESERVED): Transition(
        SagaStatus.IN_PROGRESS, SagaStep.PROCESSING_PAYMENT, OrderStatus.PENDING, (SagaCommand.PROCESS_PAYMENT,)
    ),
    (*_RESERVING, SagaEvent.INVENTORY_RESERVE_FAILED): Transition(
        SagaStatus.FAILED, SagaStep.RESERVING_INVENTORY, OrderStatus.FAILED
    ),
    (*_RESERVING, SagaEvent.DEADLINE_PASSED): _ABANDON_RESERVING,
    (*_RESERVING, SagaEvent.COMPENSATION_FORCED): _ABANDON_RESERVING,
    (*_PAYING, SagaEvent.PAYMENT_SUCCEEDED): Transition(
        SagaStatus.COMPLETED, SagaStep.DONE, OrderStatus.CONFIRMED, (SagaCommand.COMMIT_INVENTORY,)
    ),
    (*_PAYING, SagaEvent.PAYMENT_FAILED): Transition(
        SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED, (SagaCommand.RELEASE_INVENTORY,)
    ),
    (*_PAYING, SagaEvent.DEADLINE_PASSED): _ABANDON_PAYING,
    (*_PAYING, SagaEvent.COMPENSATION_FORCED): _ABANDON_PAYING,
    (*_REFUNDING, SagaEvent.PAYMENT_REFUNDED): Transition(
        SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED, (SagaCommand.RELEASE_INVENTORY,)
    ),
    (*_REFUNDING, SagaEvent.PAYMENT_REFUND_FAILED): Transition(
        SagaStatus.FAILED, SagaStep.REFUNDING_PAYMENT, OrderStatus.FAILED
    ),
    (*_RELEASING, SagaEvent.INVENTORY_RELEASED): Transition(
        SagaStatus.COMPENSATED, SagaStep.DONE, OrderStatus.COMPENSATED
    ),
    (*_RELEASING, SagaEvent.INVENTORY_RELEASE_FAILED): Transition(
        SagaStatus.FAILED, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED
    ),
    **{
        (SagaStatus.FAILED, step, SagaEvent.RESOLVED_BY_OPERATOR): Transition(
            SagaStatus.RESOLVED, step, OrderStatus.FAILED
        )
        for step in (SagaStep.RESERVING_INVENTORY, SagaStep.REFUNDING_PAYMENT, SagaStep.RELEASING_INVENTORY)
    },
}

STEP_COMMANDS = {
    _RESERVING: SagaCommand.RESERVE_INVENTORY,
    _PAYING: SagaCommand.PROCESS_PAYMENT,
    _REFUNDING: SagaCommand.REFUND_PAYMENT,
    _RELEASING: SagaCommand.RELEASE_INVENTORY,
}


def saga_transition(*, status: str, step: str, event: SagaEvent) -> Transition | None:
    """The transition ``event`` causes in (status, step), or None: the event is stale and changes nothing."""
    return TRANSITIONS.get((SagaStatus(status), SagaStep(step), event))


def saga_step_command(*, status: str, step: str) -> SagaCommand | None:
    """The command that drives an active saga's current step (what recovery and a retry re-send)."""
    return STEP_COMMANDS.get((SagaStatus(status), SagaStep(step)))
