"""Placing an order: the order, its lines, its placement saga and the first command, in one transaction."""

from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from apps.orders.models import Order, OrderLine, OrderStatus, SagaState
from apps.orders.sagas import MACHINES
from apps.orders.sagas.placement import PLACEMENT
from apps.orders.services.idempotency import idempotent
from apps.orders.services.runtime import saga_start
from apps.orders.store import store_create_lines, store_create_order

CENT = Decimal("0.01")


class OrderLimitReached(Exception):
    """The customer has too many orders, or units of a product, waiting for payment."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def order_place(
    *,
    user_id: int,
    lines: Sequence[tuple[int, int]],
    expected_total: Decimal | None = None,
    total_override: Decimal | None = None,
    caller_id: int | None = None,
    limited: bool = False,
    trace_id: str = "",
    idempotency_key: str | None = None,
) -> SagaState:
    """Create the order for ``user_id`` with its (product_id, quantity) lines, its placement saga and first command.

    The catalog sets the price when the stock is reserved; ``expected_total``
    is what the customer agreed to, and a catalog total that differs fails the
    order before any charge. ``total_override`` (staff with override_price) is
    charged instead of the catalog's. ``limited`` applies the customer's caps
    (ORDER_MAX_OPEN_PER_CUSTOMER, ORDER_MAX_UNITS_IN_FLIGHT).

    With an ``idempotency_key`` (``caller_id``'s own; the customer's by default),
    a retry with the same body gets the first answer back. The returned saga
    carries ``order``, ``replayed`` and ``response_status``.

    Raises IdempotencyKeyReused when the key came first with another request,
    OrderLimitReached when a cap would be passed.
    """
    lines = sorted((int(product_id), int(quantity)) for product_id, quantity in lines)
    expected_total = None if expected_total is None else Decimal(expected_total).quantize(CENT)
    total_override = None if total_override is None else Decimal(total_override).quantize(CENT)
    request = {
        "user_id": user_id,
        "lines": lines,
        "expected_total": None if expected_total is None else str(expected_total),
        "total_override": None if total_override is None else str(total_override),
    }

    def perform() -> SagaState:
        if limited:
            _check_limits(user_id=user_id, lines=lines)
        return _order_create(
            user_id=user_id,
            lines=lines,
            expected_total=expected_total,
            total_override=total_override,
            trace_id=trace_id,
        )

    return idempotent(
        key=idempotency_key, user_id=user_id if caller_id is None else caller_id, request=request, perform=perform
    )


def _check_limits(*, user_id: int, lines: list[tuple[int, int]]) -> None:
    """Refuse an order past the customer's caps; counted in the placing transaction (a concurrent twin may pass)."""
    open_orders = Order.objects.filter(user_id=user_id, status=OrderStatus.PENDING).count()
    if open_orders >= settings.ORDER_MAX_OPEN_PER_CUSTOMER:
        raise OrderLimitReached(
            "TOO_MANY_OPEN_ORDERS",
            f"You have {open_orders} orders waiting for payment; the limit is {settings.ORDER_MAX_OPEN_PER_CUSTOMER}.",
        )
    in_flight = dict(
        OrderLine.objects.filter(
            order__user_id=user_id, order__status=OrderStatus.PENDING, product_id__in=[p for p, _ in lines]
        )
        .values_list("product_id")
        .annotate(units=Sum("quantity"))
    )
    for product_id, quantity in lines:
        if in_flight.get(product_id, 0) + quantity > settings.ORDER_MAX_UNITS_IN_FLIGHT:
            raise OrderLimitReached(
                "TOO_MANY_UNITS_IN_FLIGHT",
                f"Orders waiting for payment would hold more than {settings.ORDER_MAX_UNITS_IN_FLIGHT} units "
                f"of product {product_id}.",
            )


def _order_create(
    *,
    user_id: int,
    lines: list[tuple[int, int]],
    expected_total: Decimal | None,
    total_override: Decimal | None,
    trace_id: str,
) -> SagaState:
    machine = MACHINES[PLACEMENT.saga_type]
    order = store_create_order(
        values={
            "user_id": user_id,
            "total_amount": total_override,
            "expected_total": expected_total,
            "price_overridden": total_override is not None,
            "status": machine.start.order_status,
        }
    )
    order.stock_lines = store_create_lines(order=order, lines=lines)
    # No ORDER_PLACED history row: the saga row records the placement, and the timeline shows it first.
    saga = saga_start(machine=machine, order=order, trace_id=trace_id, now=timezone.now())
    saga.order, saga.response_status = order, order.status
    return saga
