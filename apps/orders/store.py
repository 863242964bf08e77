"""The orders app's hand-written SQL: the few statements a saga step runs, kept out of the services.

A saga step runs on every reply, so its statements skip the ORM's query
building (apps.common.sql). Everything here reads or writes exactly the rows
named; the services decide what to write.
"""

import uuid
from datetime import datetime

from apps.common.sql import (
    sql_create,
    sql_execute,
    sql_insert_later,
    sql_insert_many,
    sql_instance,
    sql_param,
    sql_rows,
)
from apps.orders.models import Order, OrderLine, SagaHistory, SagaState, SagaType

DATABASE = "orders"

# What a step needs: the whole saga, and the order's columns its commands and statuses use.
SAGA_FIELDS = (
    "id",
    "saga_id",
    "saga_type",
    "order_id",
    "active_order_id",
    "cancelling",
    "step_attempts",
    "status",
    "current_step",
    "created_at",
    "updated_at",
    "completed_at",
    "deadline_at",
    "trace_id",
)
ORDER_FIELDS = (
    "id",
    "user_id",
    "total_amount",
    "currency",
    "expected_total",
    "price_overridden",
    "status",
    "failure_reason",
    "cancel_reason",
)
# Locks the order row with the saga's: every writer of an order takes its saga's lock first, then the order's.
# The column names are this module's constants; the saga id goes through a placeholder.
_LOCK_SQL = (
    "SELECT "  # noqa: S608
    + ", ".join([f"s.{name}" for name in SAGA_FIELDS] + [f"o.{name}" for name in ORDER_FIELDS])
    + " FROM saga_states s JOIN orders o ON o.id = s.order_id WHERE s.saga_id = %s"
)


def store_lock_saga(*, saga_id: uuid.UUID) -> tuple[SagaState, Order] | None:
    """Lock the saga and its order (in that order); None when there is no such saga."""
    rows = sql_rows(
        using=DATABASE,
        sql=_LOCK_SQL,
        params=[sql_param(using=DATABASE, model=SagaState, field="saga_id", value=saga_id)],
        for_update=True,
    )
    if not rows:
        return None
    split = len(SAGA_FIELDS)
    saga = sql_instance(using=DATABASE, model=SagaState, fields=SAGA_FIELDS, row=rows[0][:split])
    order = sql_instance(using=DATABASE, model=Order, fields=ORDER_FIELDS, row=rows[0][split:])
    return saga, order


def store_latest_saga_id(*, order_id: int) -> uuid.UUID | None:
    """The id of the order's most recent saga (no lock)."""
    return SagaState.objects.filter(order_id=order_id).order_by("-id").values_list("saga_id", flat=True).first()


def store_placement_saga_id(*, order_id: int) -> uuid.UUID | None:
    """The id of the order's placement saga, the one that charged it."""
    sagas = SagaState.objects.using(DATABASE).filter(order_id=order_id, saga_type=SagaType.PLACEMENT)
    return sagas.values_list("saga_id", flat=True).first()


def store_create_order(*, values: dict) -> Order:
    return sql_create(using=DATABASE, model=Order, values=values)


def store_create_lines(*, order: Order, lines: list[tuple[int, int]]) -> list[OrderLine]:
    """Insert the order's (product_id, quantity) lines, in product order, in one statement."""
    rows = [{"order": order.pk, "product_id": product, "quantity": quantity} for product, quantity in sorted(lines)]
    sql_insert_many(using=DATABASE, model=OrderLine, rows=rows)
    return [OrderLine(order_id=order.pk, product_id=row["product_id"], quantity=row["quantity"]) for row in rows]


def store_order_lines(*, order_id: int) -> list[OrderLine]:
    """The order's lines, in product order."""
    rows = sql_rows(
        using=DATABASE,
        sql="SELECT id, product_id, quantity, unit_price FROM order_lines WHERE order_id = %s ORDER BY product_id",
        params=[order_id],
    )
    lines = [
        sql_instance(using=DATABASE, model=OrderLine, fields=("id", "product_id", "quantity", "unit_price"), row=row)
        for row in rows
    ]
    for line in lines:
        line.order_id = order_id
    return lines


def store_save_prices(*, order: Order, lines: list[OrderLine]) -> None:
    """Write the order's total and currency and each line's unit price."""
    sql_execute(
        using=DATABASE,
        sql="UPDATE orders SET total_amount = %s, currency = %s WHERE id = %s",
        params=[_decimal(Order, "total_amount", order.total_amount), order.currency, order.pk],
    )
    for line in lines:
        sql_execute(
            using=DATABASE,
            sql="UPDATE order_lines SET unit_price = %s WHERE order_id = %s AND product_id = %s",
            params=[_decimal(OrderLine, "unit_price", line.unit_price), order.pk, line.product_id],
        )


def store_create_saga(*, values: dict) -> SagaState:
    return sql_create(using=DATABASE, model=SagaState, values=values)


def store_save_saga(saga: SagaState) -> None:
    """Write the saga's moving columns."""
    sql_execute(
        using=DATABASE,
        sql="UPDATE saga_states SET status = %s, current_step = %s, active_order_id = %s, cancelling = %s, "
        "step_attempts = %s, completed_at = %s, deadline_at = %s, updated_at = %s WHERE id = %s",
        params=[
            saga.status,
            saga.current_step,
            saga.active_order_id,
            saga.cancelling,
            saga.step_attempts,
            _datetime(SagaState, "completed_at", saga.completed_at),
            _datetime(SagaState, "deadline_at", saga.deadline_at),
            _datetime(SagaState, "updated_at", saga.updated_at),
            saga.pk,
        ],
    )


def store_save_order_status(order: Order) -> None:
    sql_execute(
        using=DATABASE,
        sql="UPDATE orders SET status = %s, failure_reason = %s, cancel_reason = %s, updated_at = %s WHERE id = %s",
        params=[
            order.status,
            order.failure_reason,
            order.cancel_reason,
            _datetime(Order, "updated_at", order.updated_at),
            order.pk,
        ],
    )


def store_add_history(*, values: dict) -> None:
    # In a consumer's batch (sql_batch), the batch's history rows go in one INSERT at its end.
    sql_insert_later(using=DATABASE, model=SagaHistory, values=values)


def _decimal(model: type[Order | OrderLine], field: str, value):
    return sql_param(using=DATABASE, model=model, field=field, value=value)


def _datetime(model: type[Order | SagaState], field: str, value: datetime | None):
    return sql_param(using=DATABASE, model=model, field=field, value=value)
