"""Cancelling orders end to end: the Procfile processes on MariaDB and RabbitMQ.

A pending order is cancelled by compensating its placement, a confirmed one by
a cancellation saga; every run ends with ``reconcile`` finding nothing.
"""

import concurrent.futures
import threading
import time

import pytest

from tests.faults.harness import reconcile

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]


def cancel(stack, order_id: int, reason: str = "") -> tuple[int, dict]:
    return stack.http("POST", f"/orders/{order_id}/cancel", {"reason": reason} if reason else {})


def wait_orders(stack, order_ids, status: str, *, timeout: float = 60) -> None:
    ids = list(order_ids)
    placeholders = ",".join(["%s"] * len(ids))

    def done() -> bool:
        rows = stack.sql(
            "orders", f"SELECT COUNT(*) FROM orders WHERE status = %s AND id IN ({placeholders})", [status, *ids]
        )
        return rows[0][0] == len(ids)

    stack.wait_until(done, timeout=timeout, what=f"{len(ids)} orders {status}", interval=0.3)


def assert_reconciled(stack) -> None:
    for _ in range(10):
        result = reconcile(stack)
        if result.returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(f"reconcile found violations:\n{result.stdout}\n{result.stderr}")


def effects(stack, order_ids) -> dict[str, int]:
    """Refunds and restocks done, and how many orders did either more than once (0 by construction, checked)."""
    placeholders = ",".join(["%s"] * len(order_ids))
    ids = list(order_ids)
    [(refunded, payment_rows, payment_orders)] = stack.sql(
        "payments",
        f"SELECT SUM(status = 'REFUNDED'), COUNT(*), COUNT(DISTINCT order_id) FROM payments "
        f"WHERE order_id IN ({placeholders})",
        ids,
    )
    [(restocks, restock_orders)] = stack.sql(
        "inventory",
        f"SELECT COUNT(*), COUNT(DISTINCT order_id) FROM inventory_logs WHERE action = 'RESTOCK' "
        f"AND outcome = 'APPLIED' AND quantity > 0 AND order_id IN ({placeholders})",
        ids,
    )
    [(charged,)] = stack.sql(
        "payments", f"SELECT COUNT(*) FROM payments WHERE status = 'SUCCESS' AND order_id IN ({placeholders})", ids
    )
    return {
        "refunded": int(refunded or 0),
        "restocked": int(restocks),
        "double_refunds": int(payment_rows) - int(payment_orders),
        "double_restocks": int(restocks) - int(restock_orders),
        "still_charged": int(charged),
    }


def test_a_pending_order_is_cancelled_and_its_stock_released(stack):
    stack.seed(5001, 10)
    stack.stop("payments-consumer")
    try:
        placed = stack.place_order(product_id=5001, quantity=3)
        stack.wait_stock(5001, (7, 3, 0))

        status, body = cancel(stack, placed["order_id"], "changed my mind")
        assert (status, body["status"], body["saga_id"]) == (202, "CANCELLING", placed["saga_id"])
    finally:
        stack.start("payments-consumer")

    wait_orders(stack, [placed["order_id"]], "CANCELLED")
    stack.wait_stock(5001, (10, 0, 0))
    order = stack.order(placed["order_id"])
    assert (order["status"], order["cancel_reason"]) == ("CANCELLED", "changed my mind")
    # The charge queued before the cancel was made and then refunded, or voided if the refund came first.
    assert stack.http("GET", f"/payments/{placed['order_id']}")[1]["status"] in ("REFUNDED", "VOIDED")
    saga = stack.http("GET", f"/sagas/{placed['saga_id']}", staff=True)[1]
    assert (saga["saga"]["status"], saga["saga"]["cancelling"]) == ("COMPENSATED", True)
    assert "CANCEL_REQUESTED" in [entry["event"] for entry in saga["history"]]

    again = cancel(stack, placed["order_id"])
    assert again == (202, {**body, "status": "CANCELLED"})
    assert_reconciled(stack)


def test_a_confirmed_order_is_cancelled_refunded_and_restocked_once(stack):
    stack.seed(5002, 10)
    placed = stack.place_order(product_id=5002, quantity=2, amount="39.98")
    assert stack.wait_terminal([placed["order_id"]], timeout=30) == {placed["order_id"]: "CONFIRMED"}
    stack.wait_stock(5002, (8, 0, 2))

    status, body = cancel(stack, placed["order_id"])
    assert (status, body["status"]) == (202, "CANCELLING")
    assert body["saga_id"] != placed["saga_id"]

    wait_orders(stack, [placed["order_id"]], "CANCELLED")
    stack.wait_stock(5002, (10, 0, 0))
    payment = stack.http("GET", f"/payments/{placed['order_id']}")[1]
    assert (payment["status"], payment["amount"]) == ("REFUNDED", "39.98")
    saga = stack.http("GET", f"/sagas/{body['saga_id']}", staff=True)[1]
    assert (saga["saga"]["saga_type"], saga["saga"]["status"]) == ("cancellation", "COMPLETED")
    assert [entry["event"] for entry in saga["history"]] == [
        "CANCEL_REQUESTED",
        "PAYMENT_REFUNDED",
        "INVENTORY_RESTOCKED",
    ]

    # A second cancel changes nothing: same answer, still one refund and one restock.
    assert cancel(stack, placed["order_id"]) == (202, {**body, "status": "CANCELLED"})
    time.sleep(1)
    assert stack.stock(5002) == (10, 0, 0)
    assert effects(stack, [placed["order_id"]]) == {
        "refunded": 1,
        "restocked": 1,
        "double_refunds": 0,
        "double_restocks": 0,
        "still_charged": 0,
    }
    assert_reconciled(stack)


def test_a_hundred_cancels_racing_a_hundred_payment_successes(stack):
    stack.seed(5003, 1000)
    stack.stop("payments-consumer")
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            placed = list(pool.map(lambda _: stack.place_order(product_id=5003, quantity=1), range(100)))
        order_ids = [order["order_id"] for order in placed]
        # Every order reserved and waiting for its charge: the charges sit in payment.commands.
        stack.wait_stock(5003, (900, 100, 0), timeout=60)
    finally:
        stack.start("payments-consumer")
    # The charges now succeed in the order they were placed while the cancels arrive from the other end:
    # they meet in the middle, where a cancel and a charge's success race for the same saga.
    placeholders = ",".join(["%s"] * len(order_ids))
    stack.wait_until(
        lambda: (
            stack.sql("payments", f"SELECT COUNT(*) FROM payments WHERE order_id IN ({placeholders})", order_ids)[0][0]
            >= 5
        ),
        timeout=60,
        what="the first charges",
        interval=0.05,
    )
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda order_id: cancel(stack, order_id), reversed(order_ids)))

    assert {status for status, _ in answers} == {202}
    wait_orders(stack, order_ids, "CANCELLED", timeout=120)
    stack.wait_stock(5003, (1000, 0, 0), timeout=60)
    figures = effects(stack, order_ids)
    assert (figures["double_refunds"], figures["double_restocks"], figures["still_charged"]) == (0, 0, 0), figures
    [(cancellation_sagas,)] = stack.sql(
        "orders",
        f"SELECT COUNT(*) FROM saga_states WHERE saga_type = 'cancellation' AND order_id IN "
        f"({','.join(['%s'] * len(order_ids))})",
        order_ids,
    )
    print(f"\ncancel race: {cancellation_sagas} of 100 were confirmed first; {figures}")
    # Both paths were taken: some orders were confirmed before their cancel, some were not.
    assert 0 < cancellation_sagas < 100, cancellation_sagas
    assert_reconciled(stack)


@pytest.mark.parametrize("consumer", ["orders-consumer", "inventory-consumer", "payments-consumer"])
def test_a_consumer_killed_mid_burst_of_cancellations_loses_nothing(stack, consumer):
    product = {"orders-consumer": 5101, "inventory-consumer": 5102, "payments-consumer": 5103}[consumer]
    stack.seed(product, 1000)
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        placed = list(pool.map(lambda _: stack.place_order(product_id=product, quantity=2), range(60)))
    order_ids = [order["order_id"] for order in placed]
    assert set(stack.wait_terminal(order_ids, timeout=60).values()) == {"CONFIRMED"}
    stack.wait_stock(product, (880, 0, 120))

    answers: list[int] = []
    burst = threading.Thread(
        target=lambda: answers.extend(cancel(stack, order_id)[0] for order_id in order_ids), name="cancel-burst"
    )
    burst.start()
    time.sleep(0.3)
    stack.kill(consumer)
    time.sleep(1.0)
    stack.start(consumer)
    burst.join(timeout=120)

    assert answers == [202] * len(order_ids)
    wait_orders(stack, order_ids, "CANCELLED", timeout=120)
    stack.wait_stock(product, (1000, 0, 0), timeout=60)
    figures = effects(stack, order_ids)
    assert figures == {
        "refunded": 60,
        "restocked": 60,
        "double_refunds": 0,
        "double_restocks": 0,
        "still_charged": 0,
    }, figures
    assert_reconciled(stack)
