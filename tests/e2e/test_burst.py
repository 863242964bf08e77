"""A 2,000-order burst with the inventory consumer and the relay SIGKILLed halfway."""

import concurrent.futures
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

PRODUCTS = range(3001, 3011)
SEEDED = 1_000
ORDERS = 2_000


def test_burst_with_consumer_and_relay_killed_halfway_ends_terminal_and_conserved(stack):
    for product_id in PRODUCTS:
        stack.seed(product_id, SEEDED)
    started = time.monotonic()

    def place(n):
        return stack.place_order(product_id=PRODUCTS[n % len(PRODUCTS)], quantity=1 + n % 3)["order_id"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        first_half = list(pool.map(place, range(ORDERS // 2)))
        stack.kill("inventory-consumer")
        stack.kill("relay")
        second_half = list(pool.map(place, range(ORDERS // 2, ORDERS)))
    stack.start("relay")
    stack.start("inventory-consumer")
    placed_in = time.monotonic() - started

    statuses = stack.wait_terminal(first_half + second_half, timeout=300)
    settled_in = time.monotonic() - started

    assert set(statuses.values()) == {"CONFIRMED"}
    # Every completed order's reservation is committed: nothing stays reserved, everything ordered is sold.
    stack.wait_until(
        lambda: stack.sql("inventory", "SELECT SUM(reserved_qty) FROM inventories")[0][0] == 0,
        timeout=120,
        what="every reservation committed",
    )
    for product_id in PRODUCTS:
        available, reserved, sold = stack.stock(product_id)
        assert available + reserved + sold == SEEDED, (product_id, available, reserved, sold)
    [(sold_total,)] = stack.sql("inventory", "SELECT SUM(sold_qty) FROM inventories")
    [(ordered_total,)] = stack.sql(
        "orders",
        "SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.status = 'CONFIRMED'",
    )
    assert sold_total == ordered_total
    assert stack.sql("payments", "SELECT COUNT(*) FROM payments")[0][0] == ORDERS
    print(f"\nburst: {ORDERS} orders placed in {placed_in:.1f}s, all terminal after {settled_in:.1f}s")
