"""The saga-types and order-lines migrations on a database holding sagas in flight, as older versions wrote them."""

import uuid
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.orders.models import Order, OrderLine, OrderStatus, SagaState, SagaStatus, SagaStep
from apps.orders.services.runtime import saga_apply_event

BEFORE = ("orders", "0002_saga_history_deadlines_idempotency")
AFTER = ("orders", "0003_saga_types_and_cancellation")


def migrate(target) -> None:
    executor = MigrationExecutor(connections["orders"])
    executor.loader.build_graph()
    executor.migrate([target])


def latest() -> tuple[str, str]:
    """The orders app's last migration: the test ends where every other test's schema is."""
    executor = MigrationExecutor(connections["orders"])
    (leaf,) = executor.loader.graph.leaf_nodes("orders")
    return leaf


def insert_as_the_previous_version(*, status: str, step: str) -> tuple[int, uuid.UUID]:
    """An order and its saga, written with only the columns the previous version knew."""
    connection = connections["orders"]
    now = SagaState._meta.get_field("created_at").get_db_prep_value(timezone.now(), connection)
    saga_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders (user_id, product_id, quantity, total_amount, status, failure_reason, created_at,"
            " updated_at) VALUES (7, 42, 2, 19.98, 'PENDING', '', %s, %s)",
            [now, now],
        )
        cursor.execute("SELECT MAX(id) FROM orders")
        (order_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO saga_states (saga_id, order_id, status, current_step, created_at, updated_at, trace_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, '')",
            [
                SagaState._meta.get_field("saga_id").get_db_prep_value(saga_id, connection),
                order_id,
                status,
                step,
                now,
                now,
            ],
        )
    return order_id, saga_id


@pytest.mark.django_db(databases=["orders"], transaction=True)
def test_sagas_in_flight_become_active_placements_and_finish():
    migrate(BEFORE)
    try:
        paying = insert_as_the_previous_version(status="IN_PROGRESS", step="PROCESSING_PAYMENT")
        done = insert_as_the_previous_version(status="COMPLETED", step="DONE")
        migrate(AFTER)
        # A process of the previous version still inserts while the deploy rolls out: the database fills the rest.
        late = insert_as_the_previous_version(status="IN_PROGRESS", step="RESERVING_INVENTORY")
    finally:
        migrate(latest())

    rows = {saga.saga_id: saga for saga in SagaState.objects.all()}
    assert (rows[paying[1]].saga_type, rows[paying[1]].active_order_id) == ("placement", paying[0])
    assert (rows[done[1]].saga_type, rows[done[1]].active_order_id) == ("placement", None)
    assert (rows[late[1]].saga_type, rows[late[1]].cancelling, rows[late[1]].step_attempts) == ("placement", False, 0)
    with transaction.atomic(using="orders"):
        saga_apply_event(saga_id=paying[1], order_id=paying[0], event="PAYMENT_SUCCEEDED")
    finished = SagaState.objects.get(saga_id=paying[1])
    assert (finished.status, finished.current_step, finished.active_order_id) == (
        SagaStatus.COMPLETED,
        SagaStep.DONE,
        None,
    )
    order = Order.objects.get(pk=paying[0])
    assert order.status == OrderStatus.CONFIRMED
    # Each order became one line; its total was the client's, so it stays the one charged.
    assert (order.total_amount, order.price_overridden) == (Decimal("19.98"), True)
    for order_id in (paying[0], done[0], late[0]):
        assert list(OrderLine.objects.filter(order_id=order_id).values_list("product_id", "quantity")) == [(42, 2)]
