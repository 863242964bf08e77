"""The saga's state machine as a pure function: (status, step, event) -> transition or no-op.

No database, no broker: every (state, event) pair is tested. A terminal saga
keeps DONE as its step, except a FAILED one, which keeps the step it failed in
so an operator sees where it stopped (RELEASING_INVENTORY means stock may be
held and needs a person).
"""

import dataclasses
import enum

from apps.orders.models import OrderStatus, SagaStatus, SagaStep


class SagaEvent(enum.StrEnum):
    INVENTORY_RESERVED = "INVENTORY_RESERVED"
    INVENTORY_RESERVE_FAILED = "INVENTORY_RESERVE_FAILED"
    PAYMENT_SUCCEEDED = "PAYMENT_SUCCEEDED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    INVENTORY_RELEASED = "INVENTORY_RELEASED"
    INVENTORY_RELEASE_FAILED = "INVENTORY_RELEASE_FAILED"


class SagaCommand(enum.StrEnum):
    RESERVE_INVENTORY = "RESERVE_INVENTORY"
    PROCESS_PAYMENT = "PROCESS_PAYMENT"
    RELEASE_INVENTORY = "RELEASE_INVENTORY"


@dataclasses.dataclass(frozen=True)
class Transition:
    status: SagaStatus
    step: SagaStep
    order_status: OrderStatus
    commands: tuple[SagaCommand, ...] = ()

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED})
ACTIVE_STATUSES = frozenset({SagaStatus.IN_PROGRESS, SagaStatus.COMPENSATING})

START = Transition(
    SagaStatus.IN_PROGRESS, SagaStep.RESERVING_INVENTORY, OrderStatus.PENDING, (SagaCommand.RESERVE_INVENTORY,)
)

_RESERVING = (SagaStatus.IN_PROGRESS, SagaStep.RESERVING_INVENTORY)
_PAYING = (SagaStatus.IN_PROGRESS, SagaStep.PROCESSING_PAYMENT)
_RELEASING = (SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY)

TRANSITIONS: dict[tuple[SagaStatus, SagaStep, SagaEvent], Transition] = {
    (*_RESERVING, SagaEvent.INVENTORY_RESERVED): Transition(
        SagaStatus.IN_PROGRESS, SagaStep.PROCESSING_PAYMENT, OrderStatus.PENDING, (SagaCommand.PROCESS_PAYMENT,)
    ),
    (*_RESERVING, SagaEvent.INVENTORY_RESERVE_FAILED): Transition(
        SagaStatus.FAILED, SagaStep.RESERVING_INVENTORY, OrderStatus.FAILED
    ),
    (*_PAYING, SagaEvent.PAYMENT_SUCCEEDED): Transition(SagaStatus.COMPLETED, SagaStep.DONE, OrderStatus.CONFIRMED),
    (*_PAYING, SagaEvent.PAYMENT_FAILED): Transition(
        SagaStatus.COMPENSATING, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED, (SagaCommand.RELEASE_INVENTORY,)
    ),
    (*_RELEASING, SagaEvent.INVENTORY_RELEASED): Transition(
        SagaStatus.COMPENSATED, SagaStep.DONE, OrderStatus.COMPENSATED
    ),
    (*_RELEASING, SagaEvent.INVENTORY_RELEASE_FAILED): Transition(
        SagaStatus.FAILED, SagaStep.RELEASING_INVENTORY, OrderStatus.FAILED
    ),
}

STEP_COMMANDS = {
    _RESERVING: SagaCommand.RESERVE_INVENTORY,
    _PAYING: SagaCommand.PROCESS_PAYMENT,
    _RELEASING: SagaCommand.RELEASE_INVENTORY,
}


def saga_transition(*, status: str, step: str, event: SagaEvent) -> Transition | None:
    """The transition ``event`` causes in (status, step), or None: the event is stale and changes nothing."""
    return TRANSITIONS.get((SagaStatus(status), SagaStep(step), event))


def saga_step_command(*, status: str, step: str) -> SagaCommand | None:
    """The command that drives an active saga's current step (what recovery re-sends)."""
    return STEP_COMMANDS.get((SagaStatus(status), SagaStep(step)))
