"""Reconciliation: the invariants that tie the orders, inventory and payments databases together.

Each domain app sees only its own database; only here are the three read side
by side. Nothing is written. Every check reads whole tables into memory (a few
columns per row), which suits an operator's or a test's run, not a request.

The invariants, once every saga older than ``saga_age`` has ended:

- every saga is terminal (or younger than ``saga_age``); an order has at most one
  active saga; every order has a saga and every saga an order;
- an order's status is what its latest saga's position implies (its definition says);
- a payment is SUCCESS exactly for CONFIRMED orders, with the order's amount; an
  order refused at reservation has no payment at all; no payment names an unknown order;
- a catalog-priced order's total is what its reservation's unit prices add up to;
- per order, inventory's log agrees with the order: a reservation takes every
  line's product and quantity, a release gives back only what was reserved, a
  commit sells only what was reserved, never both; a restock gives back what
  was sold (or reserved, if never sold); a confirmed order's units are sold, an
  order that ended otherwise holds none;
- per product, ``reserved_qty`` and ``sold_qty`` are what the applied log rows
  add up to; no counter or quantity is negative;
- no outbox row has waited unpublished longer than ``outbox_age``.
"""

import dataclasses
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.common.progress import OnProgress, no_progress
from apps.inventory.models import Inventory, InventoryAction, InventoryLog, InventoryOutcome
from apps.messaging.models import OutboxMessage
from apps.orders.models import Order, OrderLine, SagaState, SagaStatus, SagaStep, SagaType
from apps.orders.sagas import TERMINAL_STATUSES, machine_for
from apps.payments.models import Payment, PaymentStatus

# Shown to people; a few examples are enough to start looking.
EXAMPLES = 5


@dataclasses.dataclass(frozen=True)
class Violation:
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class _Saga:
    saga_id: str
    saga_type: str
    order_id: int
    status: str
    step: str
    cancelling: bool
    created_at: datetime
    completed_at: datetime | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def placement(self) -> bool:
        return self.saga_type == SagaType.PLACEMENT


@dataclasses.dataclass
class _Order:
    order_id: int
    status: str
    amount: Decimal | None
    price_overridden: bool
    # product_id -> units
    lines: dict[int, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Log:
    """One applied decision of an order: product_id -> units moved (and the unit price a reserve was made at)."""

    order_id: int
    lines: dict[int, int] = dataclasses.field(default_factory=dict)
    prices: dict[int, Decimal | None] = dataclasses.field(default_factory=dict)

    @property
    def catalog_total(self) -> Decimal | None:
        if None in self.prices.values():
            return None
        return sum((self.prices[product_id] * units for product_id, units in self.lines.items()), Decimal("0.00"))

    @property
    def moved(self) -> bool:
        return any(self.lines.values())

    def __str__(self) -> str:
        return ", ".join(f"{units} of {product_id}" for product_id, units in sorted(self.lines.items())) or "nothing"


def _lines(lines: dict[int, int]) -> str:
    return ", ".join(f"{units} of {product_id}" for product_id, units in sorted(lines.items()))


# Tables read, then checks run: what ``on_progress`` counts.
READS = 5
CHECKS = 6


def reconcile(*, saga_age: timedelta, outbox_age: timedelta, on_progress: OnProgress = no_progress) -> list[Violation]:
    """Every violation of the cross-database invariants, in a stable order (empty when all hold).

    ``on_progress`` hears (steps done, steps) after each table read and each check.
    """
    steps = READS + CHECKS
    now = timezone.now()
    every_saga: dict[int, list[_Saga]] = defaultdict(list)
    for row in (
        SagaState.objects.order_by("id")
        .values_list(
            "saga_id", "saga_type", "order_id", "status", "current_step", "cancelling", "created_at", "completed_at"
        )
        .iterator()
    ):
        every_saga[row[2]].append(_Saga(str(row[0]), *row[1:]))
    on_progress(1, steps)
    # Each order's latest saga decides what the order should show.
    sagas = {order_id: runs[-1] for order_id, runs in every_saga.items()}
    orders = {
        row[0]: _Order(*row)
        for row in Order.objects.values_list("id", "status", "total_amount", "price_overridden").iterator()
    }
    on_progress(2, steps)
    every_line = OrderLine.objects.values_list("order_id", "product_id", "quantity")
    for order_id, product_id, quantity in every_line.iterator():
        if order_id in orders:
            orders[order_id].lines[product_id] = quantity
    on_progress(3, steps)
    payments = {
        order_id: (status, amount)
        for order_id, status, amount in Payment.objects.values_list("order_id", "status", "amount").iterator()
    }
    on_progress(4, steps)
    applied: dict[str, dict[int, _Log]] = {action: {} for action in InventoryAction.values}
    for order_id, product_id, action, quantity, unit_price in (
        InventoryLog.objects.filter(outcome=InventoryOutcome.APPLIED)
        .values_list("order_id", "product_id", "action", "quantity", "unit_price")
        .iterator()
    ):
        log = applied[action].setdefault(order_id, _Log(order_id))
        log.lines[product_id] = quantity
        log.prices[product_id] = unit_price
    on_progress(READS, steps)
    settled_before = now - saga_age
    checks = (
        lambda: _sagas_and_orders(every_saga, orders, settled_before=settled_before),
        lambda: _payments(sagas, orders, payments),
        lambda: _inventory_per_order(sagas, orders, applied, settled_before=settled_before),
        lambda: _inventory_per_product(applied),
        _negative_quantities,
        lambda: _outboxes(older_than=now - outbox_age, outbox_age=outbox_age),
    )
    violations = []
    for done, check in enumerate(checks, READS + 1):
        violations.extend(check())
        on_progress(done, steps)
    return violations


def _sagas_and_orders(every_saga: dict[int, list[_Saga]], orders: dict[int, _Order], *, settled_before: datetime):
    for order_id, runs in sorted(every_saga.items()):
        for saga in runs:
            if not saga.terminal and saga.created_at <= settled_before:
                yield Violation(
                    "saga_not_terminal",
                    f"{saga.saga_type} saga {saga.saga_id} (order {order_id}) is still {saga.status}/{saga.step}, "
                    f"started {saga.created_at.isoformat()}",
                )
        active = [saga for saga in runs if not saga.terminal]
        if len(active) > 1:
            yield Violation(
                "several_active_sagas",
                f"order {order_id} has {len(active)} active sagas: {', '.join(saga.saga_id for saga in active)}",
            )
        if any(not saga.terminal for saga in runs[:-1]):
            yield Violation("saga_after_active_saga", f"order {order_id} got a saga while an earlier one was active")
        saga = runs[-1]
        order = orders.get(order_id)
        if order is None:
            yield Violation("saga_without_order", f"saga {saga.saga_id} names order {order_id}, which does not exist")
            continue
        expected = machine_for(saga.saga_type).order_status(
            status=saga.status, step=saga.step, cancelling=saga.cancelling
        )
        if order.status != expected:
            yield Violation(
                "order_saga_mismatch",
                f"order {order_id} is {order.status} but its {saga.saga_type} saga {saga.saga_id} is "
                f"{saga.status}/{saga.step} (expects {expected})",
            )
    for order_id in sorted(orders.keys() - every_saga.keys()):
        yield Violation("order_without_saga", f"order {order_id} has no saga")


def _payments(sagas: dict[int, _Saga], orders: dict[int, _Order], payments: dict[int, tuple[str, Decimal]]):
    for order_id in sorted(payments.keys() - orders.keys()):
        yield Violation("payment_without_order", f"payment for order {order_id}, which does not exist")
    for order_id, order in sorted(orders.items()):
        saga = sagas.get(order_id)
        status, amount = payments.get(order_id, (None, None))
        if amount is not None and amount != order.amount:
            yield Violation(
                "payment_amount_mismatch", f"order {order_id} costs {order.amount} but its payment is {amount}"
            )
        if saga is None or not saga.terminal:
            continue
        confirmed = saga.placement and saga.status == SagaStatus.COMPLETED
        if confirmed and status != PaymentStatus.SUCCESS:
            yield Violation(
                "confirmed_without_payment",
                f"order {order_id} is CONFIRMED but its payment is {status or 'missing'}",
            )
        elif not confirmed and status == PaymentStatus.SUCCESS:
            yield Violation(
                "charged_without_confirmation",
                f"order {order_id} ended {order.status} ({saga.saga_type} saga {saga.status}) but its payment is "
                "SUCCESS: money kept for an order not delivered",
            )
        if saga.placement and saga.step == SagaStep.RESERVING_INVENTORY and status is not None:
            yield Violation(
                "payment_for_reservation_failure",
                f"order {order_id} was refused at reservation but has a {status} payment",
            )


def _inventory_per_order(
    sagas: dict[int, _Saga], orders: dict[int, _Order], applied: dict[str, dict[int, _Log]], *, settled_before
):
    reserved = applied[InventoryAction.RESERVE]
    released = applied[InventoryAction.RELEASE]
    committed = applied[InventoryAction.COMMIT]
    restocked = applied[InventoryAction.RESTOCK]
    for order_id in sorted((reserved.keys() | released.keys() | committed.keys() | restocked.keys()) - orders.keys()):
        yield Violation("stock_for_unknown_order", f"inventory moved stock for order {order_id}, which does not exist")
    for order_id, order in sorted(orders.items()):
        reservation = reserved.get(order_id)
        release = released.get(order_id)
        commit = committed.get(order_id)
        if reservation and reservation.lines != order.lines:
            yield Violation(
                "reservation_mismatch",
                f"order {order_id} asked {_lines(order.lines)} but reserved {reservation}",
            )
        if reservation and not order.price_overridden and order.amount is not None:
            catalog_total = reservation.catalog_total
            if catalog_total != order.amount:
                yield Violation(
                    "price_mismatch",
                    f"order {order_id} costs {order.amount} but its reservation's catalog prices add up to "
                    f"{catalog_total if catalog_total is not None else 'nothing (a line had no price)'}",
                )
        if release and release.moved and (reservation is None or release.lines != reservation.lines):
            yield Violation(
                "release_without_reservation",
                f"order {order_id} released {release} but reserved {reservation or 'nothing'}",
            )
        if commit and (reservation is None or commit.lines != reservation.lines):
            yield Violation(
                "commit_without_reservation",
                f"order {order_id} sold {commit} but reserved {reservation or 'nothing'}",
            )
        if commit and release and release.moved:
            yield Violation("released_and_sold", f"order {order_id} was both released and sold")
        restock = restocked.get(order_id)
        if restock and restock.moved and (reservation is None or restock.lines != reservation.lines):
            yield Violation(
                "restock_without_sale",
                f"order {order_id} restocked {restock} but reserved {reservation or 'nothing'}",
            )
        if restock and restock.moved and release and release.moved:
            yield Violation("released_and_restocked", f"order {order_id} was both released and restocked")
        saga = sagas.get(order_id)
        if saga is None:
            continue
        if saga.placement and saga.status == SagaStatus.COMPLETED:
            if commit is None and saga.completed_at is not None and saga.completed_at <= settled_before:
                yield Violation("units_not_sold", f"order {order_id} is CONFIRMED but its units were never sold")
        elif commit is not None and saga.placement:
            yield Violation("sold_without_confirmation", f"order {order_id} is {order.status} but its units were sold")
        given_back = (release and release.moved) or (restock and restock.moved)
        ended_without_sale = saga.terminal and not (saga.placement and saga.status == SagaStatus.COMPLETED)
        if ended_without_sale and saga.status != SagaStatus.RESOLVED and reservation and not given_back:
            yield Violation(
                "stock_held",
                f"order {order_id} ended {saga.status}/{saga.step} but still holds {reservation}",
            )


def _inventory_per_product(applied: dict[str, dict[int, _Log]]):
    expected_reserved: dict[int, int] = defaultdict(int)
    expected_sold: dict[int, int] = defaultdict(int)
    for action, sign_reserved, sign_sold in (
        (InventoryAction.RESERVE, 1, 0),
        (InventoryAction.RELEASE, -1, 0),
        (InventoryAction.COMMIT, -1, 1),
    ):
        for log in applied[action].values():
            for product_id, units in log.lines.items():
                expected_reserved[product_id] += sign_reserved * units
                expected_sold[product_id] += sign_sold * units
    for log in applied[InventoryAction.RESTOCK].values():
        # Sold units go back if the order was sold; a restock before the sale gives back the reservation.
        counter = expected_sold if log.order_id in applied[InventoryAction.COMMIT] else expected_reserved
        for product_id, units in log.lines.items():
            counter[product_id] -= units
    counters = {
        product_id: (reserved_qty, sold_qty)
        for product_id, reserved_qty, sold_qty in Inventory.objects.values_list(
            "product_id", "reserved_qty", "sold_qty"
        ).iterator()
    }
    for product_id in sorted((expected_reserved.keys() | expected_sold.keys()) - counters.keys()):
        yield Violation(
            "stock_for_unknown_product", f"inventory log moved stock of product {product_id}, which has no row"
        )
    for product_id, (reserved_qty, sold_qty) in sorted(counters.items()):
        if reserved_qty != expected_reserved.get(product_id, 0):
            yield Violation(
                "reserved_counter_mismatch",
                f"product {product_id} has reserved_qty {reserved_qty} but its log adds up to "
                f"{expected_reserved.get(product_id, 0)}",
            )
        if sold_qty != expected_sold.get(product_id, 0):
            yield Violation(
                "sold_counter_mismatch",
                f"product {product_id} has sold_qty {sold_qty} but its log adds up to "
                f"{expected_sold.get(product_id, 0)}",
            )


def _negative_quantities():
    for product_id, available, reserved, sold in Inventory.objects.values_list(
        "product_id", "available_qty", "reserved_qty", "sold_qty"
    ).iterator():
        for name, value in (("available_qty", available), ("reserved_qty", reserved), ("sold_qty", sold)):
            if value < 0:
                yield Violation("negative_quantity", f"product {product_id} has {name} {value}")
    for order_id, action, quantity in InventoryLog.objects.filter(quantity__lt=0).values_list(
        "order_id", "action", "quantity"
    ):
        yield Violation("negative_quantity", f"inventory log {action} of order {order_id} has quantity {quantity}")
    for order_id, product_id, quantity in OrderLine.objects.filter(quantity__lte=0).values_list(
        "order_id", "product_id", "quantity"
    ):
        yield Violation("negative_quantity", f"order {order_id} has quantity {quantity} of product {product_id}")


def _outboxes(*, older_than: datetime, outbox_age: timedelta):
    for alias in settings.DOMAIN_DATABASES:
        lagging = OutboxMessage.objects.using(alias).filter(dispatched_at__isnull=True, created_at__lte=older_than)
        count = lagging.count()
        if count:
            examples = ", ".join(
                f"{routing_key} {message_id}"
                for routing_key, message_id in lagging.order_by("id").values_list("routing_key", "message_id")[
                    :EXAMPLES
                ]
            )
            yield Violation(
                "outbox_lagging",
                f"{alias}: {count} outbox row(s) unpublished for over {outbox_age.total_seconds():g}s ({examples})",
            )
