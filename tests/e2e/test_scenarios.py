"""The seed's five scenarios, against the real Procfile processes on MariaDB and RabbitMQ."""

import concurrent.futures

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]


def test_happy_path_confirms_the_order_takes_stock_and_charges(stack):
    stack.seed(1001, 100)
    placed = stack.place_order(product_id=1001, quantity=2, amount="199.98")

    statuses = stack.wait_terminal([placed["order_id"]], timeout=30)

    assert statuses == {placed["order_id"]: "CONFIRMED"}
    # The completed saga commits the reservation: the units end up sold, not reserved.
    stack.wait_stock(1001, (98, 0, 2))
    status, payment = stack.http("GET", f"/payments/{placed['order_id']}")
    assert (status, payment["status"], payment["amount"]) == (200, "SUCCESS", "199.98")
    status, saga = stack.http("GET", f"/sagas/{placed['saga_id']}", staff=True)
    assert (saga["saga"]["status"], saga["saga"]["current_step"]) == ("COMPLETED", "DONE")


def test_insufficient_stock_fails_the_order_without_payment(stack):
    stack.seed(1002, 1)
    placed = stack.place_order(product_id=1002, quantity=5)

    statuses = stack.wait_terminal([placed["order_id"]], timeout=30)

    assert statuses == {placed["order_id"]: "FAILED"}
    assert stack.order(placed["order_id"])["failure_reason"] == "insufficient stock"
    assert stack.http("GET", f"/payments/{placed['order_id']}")[0] == 404
    assert stack.stock(1002) == (1, 0, 0)
    assert stack.http("GET", f"/sagas/{placed['saga_id']}", staff=True)[1]["saga"]["status"] == "FAILED"


def test_payment_failure_compensates_and_restores_stock(stack):
    stack.stop("payments-consumer")
    stack.start("payments-consumer", env={"PAYMENT_FAILURE_RATE": "1.0"})
    try:
        stack.seed(1003, 10)
        placed = stack.place_order(product_id=1003, quantity=3)

        statuses = stack.wait_terminal([placed["order_id"]], timeout=30)
    finally:
        stack.stop("payments-consumer")
        stack.start("payments-consumer")

    assert statuses == {placed["order_id"]: "COMPENSATED"}
    assert stack.stock(1003) == (10, 0, 0)
    assert stack.http("GET", f"/payments/{placed['order_id']}")[1]["status"] == "FAILED"
    saga = stack.http("GET", f"/sagas/{placed['saga_id']}", staff=True)[1]["saga"]
    assert (saga["status"], saga["current_step"]) == ("COMPENSATED", "DONE")


def test_order_waits_while_the_inventory_consumer_is_down_then_confirms(stack):
    stack.seed(1004, 10)
    stack.stop("inventory-consumer")
    try:
        placed = stack.place_order(product_id=1004, quantity=1)
        # The command is published and waits in inventory.commands; nothing moves meanwhile.
        stack.wait_until(
            lambda: stack.sql("orders", "SELECT COUNT(*) FROM messaging_outbox WHERE dispatched_at IS NULL")[0][0] == 0,
            timeout=15,
            what="the reserve command left the outbox",
        )
        assert stack.order(placed["order_id"])["status"] == "PENDING"
        assert stack.inventory(1004)["available_qty"] == 10
    finally:
        stack.start("inventory-consumer")

    assert stack.wait_terminal([placed["order_id"]], timeout=30) == {placed["order_id"]: "CONFIRMED"}
    stack.wait_stock(1004, (9, 0, 1))


def test_fifty_concurrent_orders_on_ten_units_never_oversell(stack):
    stack.seed(1005, 10)
    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as pool:
        placed = list(pool.map(lambda _: stack.place_order(product_id=1005, quantity=1), range(50)))

    statuses = stack.wait_terminal([order["order_id"] for order in placed], timeout=60)

    counts = {status: list(statuses.values()).count(status) for status in set(statuses.values())}
    assert counts == {"CONFIRMED": 10, "FAILED": 40}
    stack.wait_stock(1005, (0, 0, 10))
