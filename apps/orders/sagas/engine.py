"""The saga engine: a saga is a definition, and everything else is derived from it.

A definition lists its steps in order. Each step has an action (the command it
sends, built from the saga's data, the reply that answers it, and the events a
successful or failed reply is recorded as) and, optionally, a compensation: the
action that undoes it. From that the engine derives, once, at import:

- the transition table: (status, step, cancelling, event) -> Transition;
- the command each active step (re)sends, for recovery and the operator's retry;
- the reply -> event map the orchestrator's handlers are built from;
- each step's deadline, and the order status every position implies.

The rules, in the manner of Eventuate Tram's step/withCompensation:

- a step's success moves on to the next step; the last one completes the saga;
- a step's failure (its reply said no: nothing was done) compensates the steps
  before it, latest first; with nothing to compensate, the saga fails there;
- a compensatable step that passes its deadline, or that an operator abandons,
  is compensated itself too (its effect may land late), and those before it:
  every compensation is sent at once, and the saga waits for each in turn;
- a failed compensation fails the saga where it stopped: a person must look;
- a refusal with nothing to undo fails the saga there. At the first step, if
  that step could be undone, it is the saga's answer (out of stock, say):
  nothing to settle. A step with no compensation is past the point of no
  return, so a saga stopped at it (or after it) must be finished by a person;
- a cancellable saga asked to cancel abandons its step the same way, with the
  ``cancelling`` flag set, so its order ends with the cancelled statuses;
- an action with ``attempts`` > 1 stays in its step after a failed reply, until
  it has failed that often: recovery re-sends it when it has been idle long enough;
- a FAILED saga that waits for a person is closed by an operator (RESOLVED),
  where it stopped; one that failed as its answer is already settled.

No database, no broker, no clock: the tests walk every definition's positions
against every event. Commands are built only by their action's own builder: an
event or command the definition does not name has no transition at all.
"""

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

from apps.orders.models import OrderStatus, SagaStatus, SagaStep

TERMINAL_STATUSES = frozenset({SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED, SagaStatus.RESOLVED})
ACTIVE_STATUSES = frozenset({SagaStatus.IN_PROGRESS, SagaStatus.COMPENSATING})

# Events that are not replies: the clock, an operator, a customer.
DEADLINE_PASSED = "DEADLINE_PASSED"
COMPENSATION_FORCED = "COMPENSATION_FORCED"
RESOLVED_BY_OPERATOR = "RESOLVED_BY_OPERATOR"
CANCEL_REQUESTED = "CANCEL_REQUESTED"
CONTROL_EVENTS = (DEADLINE_PASSED, COMPENSATION_FORCED, RESOLVED_BY_OPERATOR, CANCEL_REQUESTED)


class DefinitionError(ValueError):
    """A saga definition the engine cannot derive a machine from (found at import, never at run time)."""


@dataclasses.dataclass(frozen=True)
class Action:
    """One command of a saga and the reply that answers it.

    ``build(saga, order)`` makes the command (a ``command`` instance) from the
    saga's data. ``reply`` is the answer's contract; it carries ``success``, and
    is recorded as ``succeeded`` or ``failed``. ``deadline`` is the default
    number of seconds the step may wait (``SAGA_STEP_DEADLINE_<STEP>`` overrides it).
    """

    step: SagaStep
    command: type
    build: Callable[[Any, Any], Any]
    reply: type
    succeeded: str
    failed: str
    deadline: float
    attempts: int = 1
    # Its success carries the catalog's prices, which fix the order's total (the reservation).
    fixes_prices: bool = False

    @property
    def moves_stock(self) -> bool:
        """Whether the command carries the order's lines, which the builder needs loaded."""
        return _moves_stock(self.command)

    def make(self, saga, order):
        """The command for ``saga``; raises TypeError if the builder made anything else."""
        message = self.build(saga, order)
        if type(message) is not self.command:
            raise TypeError(f"{self.step} must send {self.command.__name__}, not {type(message).__name__}")
        return message


def _moves_stock(command: type) -> bool:
    return any(field.name == "lines" for field in dataclasses.fields(command))


@dataclasses.dataclass(frozen=True)
class Notice:
    """A command sent when the saga completes, which nothing waits for: its reply only ever reports a refusal."""

    command: type
    build: Callable[[Any, Any], Any]
    reply: type
    applied: str
    refused: str

    @property
    def moves_stock(self) -> bool:
        return _moves_stock(self.command)

    def make(self, saga, order):
        message = self.build(saga, order)
        if type(message) is not self.command:
            raise TypeError(f"the completion notice must send {self.command.__name__}, not {type(message).__name__}")
        return message


@dataclasses.dataclass(frozen=True)
class Step:
    action: Action
    compensation: Action | None = None


@dataclasses.dataclass(frozen=True)
class OrderStatuses:
    """What the order shows in each phase of the saga."""

    running: OrderStatus
    completed: OrderStatus
    failed: OrderStatus
    resolved: OrderStatus
    compensating: OrderStatus
    compensated: OrderStatus


@dataclasses.dataclass(frozen=True)
class SagaDefinition:
    saga_type: str
    description: str
    steps: tuple[Step, ...]
    order: OrderStatuses
    # The timeline's first entry (not stored: built from the saga row).
    start_event: str
    on_completion: tuple[Notice, ...] = ()
    # Set for a saga a customer may cancel while it runs: the order statuses of a cancelled run.
    cancelled: OrderStatuses | None = None

    @property
    def cancellable(self) -> bool:
        return self.cancelled is not None


@dataclasses.dataclass(frozen=True)
class Transition:
    status: SagaStatus
    step: SagaStep
    order_status: OrderStatus
    commands: tuple[Action | Notice, ...] = ()
    cancelling: bool = False
    # A failed attempt of an action that may try again: the saga stays where it is, idle, for recovery.
    attempt: bool = False

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclasses.dataclass(frozen=True)
class Position:
    status: SagaStatus
    step: SagaStep
    cancelling: bool = False


class SagaMachine:
    """Everything derived from one definition; built once, then only read."""

    def __init__(self, definition: SagaDefinition):
        if not definition.steps:
            raise DefinitionError(f"{definition.saga_type}: a saga needs at least one step")
        self.definition = definition
        self.saga_type = definition.saga_type
        self.transitions: dict[tuple[SagaStatus, SagaStep, bool, str], Transition] = {}
        self.actions: dict[tuple[SagaStatus, SagaStep], Action] = {}
        # FAILED positions where the saga stopped short and waits for a person (see the module's rules).
        self.stopped: set[Position] = set()
        first = definition.steps[0].action
        self.start = Transition(
            SagaStatus.IN_PROGRESS, first.step, definition.order.running, (first,), cancelling=False
        )
        modes = (False, True) if definition.cancellable else (False,)
        for cancelling in modes:
            self._derive(cancelling)
        self.position_order_status = self._order_statuses()

    # --- derivation -------------------------------------------------------------------------
    def _statuses(self, cancelling: bool) -> OrderStatuses:
        return self.definition.cancelled if cancelling else self.definition.order

    def _derive(self, cancelling: bool) -> None:
        steps, order = self.definition.steps, self._statuses(cancelling)
        for index, step in enumerate(steps):
            action, compensation = step.action, step.compensation
            self._action(SagaStatus.IN_PROGRESS, action)
            # A saga runs forward only until it is cancelled: forward positions exist uncancelled only.
            if not cancelling:
                self._forward(index, action, compensation is not None)
            if compensation is not None:
                self._action(SagaStatus.COMPENSATING, compensation)
                at = (SagaStatus.COMPENSATING, compensation.step, cancelling)
                self._add(*at, compensation.succeeded, self._undo(index - 1, cancelling))
                failed = Transition(SagaStatus.FAILED, compensation.step, order.failed, cancelling=cancelling)
                self._add(*at, compensation.failed, failed)
                self.stopped.add(Position(SagaStatus.FAILED, compensation.step, cancelling))
        for position in sorted(self.stopped, key=lambda p: (p.step, p.cancelling)):
            resolved = Transition(
                SagaStatus.RESOLVED,
                position.step,
                self._statuses(position.cancelling).resolved,
                cancelling=position.cancelling,
            )
            self._add(SagaStatus.FAILED, position.step, position.cancelling, RESOLVED_BY_OPERATOR, resolved)

    def _forward(self, index: int, action: Action, compensatable: bool) -> None:
        steps, order = self.definition.steps, self.definition.order
        at = (SagaStatus.IN_PROGRESS, action.step, False)
        if index + 1 < len(steps):
            following = steps[index + 1].action
            succeeded = Transition(SagaStatus.IN_PROGRESS, following.step, order.running, (following,))
        else:
            succeeded = Transition(SagaStatus.COMPLETED, SagaStep.DONE, order.completed, self.definition.on_completion)
        self._add(*at, action.succeeded, succeeded)
        # A refusal means the step did nothing: undo the steps before it, or fail here if there are none.
        failed = self._undo(index - 1, False, or_fail_at=action.step)
        self._add(*at, action.failed, failed)
        if failed.status == SagaStatus.FAILED and not (index == 0 and compensatable):
            self.stopped.add(Position(SagaStatus.FAILED, action.step, False))
        if compensatable:
            # No answer in time, or abandoned: the step may still land, so it is undone too.
            abandon = self._abandon(index, False)
            self._add(*at, DEADLINE_PASSED, abandon)
            self._add(*at, COMPENSATION_FORCED, abandon)
            if self.definition.cancellable:
                self._add(*at, CANCEL_REQUESTED, self._abandon(index, True))

    def _abandon(self, index: int, cancelling: bool) -> Transition:
        """Undo steps ``index`` down to 0 at once, then wait for each in turn, latest first.

        Nothing waits on a silent step: every compensation is sent now (stock comes
        back while the payment step is still silent), and the saga then waits for the
        latest one's answer; the earlier ones are sent again as their turn comes, and
        answered from the participants' logs.
        """
        waiting = self._undo(index, cancelling)
        earlier_first = tuple(
            step.compensation for step in self.definition.steps[: index + 1] if step.compensation is not None
        )
        return dataclasses.replace(waiting, commands=earlier_first)

    def _undo(self, index: int, cancelling: bool, *, or_fail_at: SagaStep | None = None) -> Transition:
        """Compensate steps ``index`` down to 0, latest first: the first compensation found starts.

        With none left: COMPENSATED, or, for a refusal (``or_fail_at``) with nothing
        before it to undo, FAILED at that step.
        """
        order = self._statuses(cancelling)
        for earlier in range(index, -1, -1):
            compensation = self.definition.steps[earlier].compensation
            if compensation is not None:
                return Transition(
                    SagaStatus.COMPENSATING, compensation.step, order.compensating, (compensation,), cancelling
                )
        if or_fail_at is not None:
            return Transition(SagaStatus.FAILED, or_fail_at, order.failed, cancelling=cancelling)
        return Transition(SagaStatus.COMPENSATED, SagaStep.DONE, order.compensated, cancelling=cancelling)

    def _action(self, status: SagaStatus, action: Action) -> None:
        known = self.actions.setdefault((status, action.step), action)
        if known is not action:
            raise DefinitionError(f"{self.saga_type}: two actions for {status}/{action.step}")

    def _add(self, status: SagaStatus, step: SagaStep, cancelling: bool, event: str, transition: Transition) -> None:
        key = (status, step, cancelling, event)
        if key in self.transitions and self.transitions[key] != transition:
            raise DefinitionError(f"{self.saga_type}: {status}/{step} has two transitions for {event}")
        self.transitions[key] = transition

    def _order_statuses(self) -> dict[Position, OrderStatus]:
        implied: dict[Position, OrderStatus] = {}
        for transition in (self.start, *self.transitions.values()):
            position = Position(transition.status, transition.step, transition.cancelling)
            if implied.setdefault(position, transition.order_status) != transition.order_status:
                raise DefinitionError(f"{self.saga_type}: {position} is reached with two order statuses")
        return implied

    # --- what the runtime asks --------------------------------------------------------------
    def transition(self, *, status: str, step: str, cancelling: bool, event: str, attempts: int = 0):
        """The transition ``event`` causes at this position, or None: the event is stale and changes nothing.

        ``attempts`` is how many times the current action has already failed.
        """
        key = (SagaStatus(status), SagaStep(step), cancelling, event)
        transition = self.transitions.get(key)
        if transition is None:
            return None
        action = self.actions.get((key[0], key[1]))
        if action is not None and event == action.failed and attempts + 1 < action.attempts:
            return Transition(key[0], key[1], self.position_order_status[Position(*key[:3])], (), cancelling, True)
        return transition

    def step_action(self, *, status: str, step: str) -> Action | None:
        """The action that drives an active saga's current step (what recovery and a retry re-send)."""
        return self.actions.get((SagaStatus(status), SagaStep(step)))

    def needs_person(self, *, status: str, step: str, cancelling: bool) -> bool:
        """Whether a saga at this position stopped short and waits for a person (only some FAILED ones do)."""
        return Position(SagaStatus(status), SagaStep(step), cancelling) in self.stopped

    def order_status(self, *, status: str, step: str, cancelling: bool) -> OrderStatus | None:
        """The order status a saga at this position implies (None for a position the saga cannot be in)."""
        return self.position_order_status.get(Position(SagaStatus(status), SagaStep(step), cancelling))

    def positions(self) -> list[Position]:
        """Every position a saga of this type can be in."""
        return sorted(self.position_order_status, key=lambda p: (p.status, p.step, p.cancelling))

    def events(self) -> list[str]:
        """Every event this definition knows: its replies' and the control events."""
        names = {event for (*_, event) in self.transitions}
        for action in self.actions.values():
            names.update((action.succeeded, action.failed))
        return sorted(names | set(CONTROL_EVENTS))

    def deadline(self, step: str, overrides: dict[str, float]) -> float | None:
        """Seconds the step may take: the override for it, else its action's default."""
        if step in overrides:
            return overrides[step]
        for (_status, action_step), action in self.actions.items():
            if action_step == step:
                return action.deadline
        return None

    def replies(self) -> dict[str, tuple[str, str]]:
        """Reply routing key -> (event on success, event on failure), for every action of the definition."""
        return {action.reply.routing_key: (action.succeeded, action.failed) for action in self.actions.values()}

    def notices(self) -> dict[str, Notice]:
        return {notice.reply.routing_key: notice for notice in self.definition.on_completion}


def every_state_event(machine: SagaMachine):
    """(status, step, cancelling, event) for every status, step, mode and event: what the tests walk."""
    modes = (False, True) if machine.definition.cancellable else (False,)
    return itertools.product(SagaStatus.values, SagaStep.values, modes, machine.events())
