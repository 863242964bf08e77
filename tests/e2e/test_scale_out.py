"""Scale-out on one machine: two copies of web, relay and every consumer, on quorum queues, under load.

Every order must end terminal with its effects exactly once, and every copy of
every process must have done part of the work.
"""

import concurrent.futures
import json
import os
import subprocess
import time
import urllib.request

import pytest

from tests.e2e.test_delivery import published_count
from tests.stack import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

# SCALE_OUT_ORDERS raises the load for a measurement run (docs/scaling.md); the suite uses 300.
ORDERS = int(os.environ.get("SCALE_OUT_ORDERS", "300"))
PLENTY = dict.fromkeys((4001, 4002, 4003, 4004, 4005), max(200, ORDERS))
SCARCE = {4006: 15}
SEEDED = {**PLENTY, **SCARCE}
COPIES = ("-a", "-b")
CONSUMERS = ("orders-consumer", "inventory-consumer", "payments-consumer")


def post_order(port: int, *, product_id: int, quantity: int, headers: dict[str, str]) -> int:
    body = json.dumps({"user_id": 7, "product_id": product_id, "quantity": quantity, "total_amount": "10.00"})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/orders",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return json.loads(response.read())["order_id"]


def handled_ok(stack, key: str) -> int:
    return sum(
        1
        for record in stack.json_logs(key)
        if record.get("event") == "consumer.handled" and record.get("outcome") in ("ok", "duplicate")
    )


def queue_types(vhost: str) -> set[str]:
    output = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type", "--formatter", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return {
        queue["type"]
        for queue in json.loads(output)
        if queue["name"].split(".")[0] in ("inventory", "payment", "order")
    }


def test_two_copies_of_every_process_share_the_load_with_effects_once(make_stack):
    stack = make_stack(RABBITMQ_QUEUE_TYPE="quorum", PAYMENT_FAILURE_RATE="0.2", RELAY_CONCURRENCY="1")
    web_ports = {"web-a": stack.port, "web-b": free_port()}
    for key, port in web_ports.items():
        stack.start("web", instance=key.removeprefix("web"), env={"PORT": str(port)})
    for copy in COPIES:
        stack.start("relay", instance=copy)
        for consumer in CONSUMERS:
            stack.start(consumer, instance=copy)
    stack.start("beat")
    for port in web_ports.values():
        stack.wait_until(lambda port=port: _answers(port), timeout=60, what=f"web on {port} answers")
    for product_id, quantity in SEEDED.items():
        stack.seed(product_id, quantity)
    products = list(SEEDED)
    ports = list(web_ports.values())
    started = time.monotonic()

    def place(n: int) -> int:
        return post_order(
            ports[n % 2], product_id=products[n % len(products)], quantity=1 + n % 3, headers=stack.auth_headers()
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        placed = list(pool.map(place, range(ORDERS)))
    placed_in = time.monotonic() - started
    statuses = stack.wait_terminal(placed, timeout=150 + ORDERS / 10)
    settled_in = time.monotonic() - started

    counts = {status: list(statuses.values()).count(status) for status in sorted(set(statuses.values()))}
    assert set(counts) <= {"CONFIRMED", "FAILED", "COMPENSATED"}
    assert sum(counts.values()) == ORDERS
    assert counts.get("COMPENSATED", 0) > 0, "the payment failure rate produced no compensation"
    assert queue_types(stack.vhost) == {"quorum"}

    # Exactly once: one reserve decision per order, one release per compensation, one payment per charge.
    assert stack.sql(
        "inventory",
        "SELECT COUNT(*) FROM (SELECT 1 FROM inventory_logs GROUP BY order_id, action HAVING COUNT(*) > 1) d",
    ) == [(0,)]
    logs = dict(stack.sql("inventory", "SELECT action, COUNT(*) FROM inventory_logs GROUP BY action"))
    assert logs.get("RESERVE") == ORDERS, logs
    assert logs.get("RELEASE", 0) == counts.get("COMPENSATED", 0), logs
    payments = dict(stack.sql("payments", "SELECT status, COUNT(*) FROM payments GROUP BY status"))
    assert payments.get("SUCCESS", 0) == counts.get("CONFIRMED", 0), payments
    assert payments.get("FAILED", 0) == counts.get("COMPENSATED", 0), payments
    assert stack.sql("payments", "SELECT COUNT(*) - COUNT(DISTINCT order_id) FROM payments") == [(0,)]

    # Stock conserved: nothing created or lost, and what is reserved is exactly what confirmed orders took.
    confirmed_quantity = dict(
        stack.sql(
            "orders",
            "SELECT l.product_id, SUM(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id"
            " WHERE o.status = 'CONFIRMED' GROUP BY l.product_id",
        )
    )
    for product_id, seeded in SEEDED.items():
        inventory = stack.inventory(product_id)
        held = inventory["reserved_qty"] + inventory["sold_qty"]
        assert inventory["available_qty"] + held == seeded, inventory
        # A confirmed order's units move from reserved to sold when its commit lands: the sum is what matters.
        assert held == confirmed_quantity.get(product_id, 0), inventory

    # Work shared: every copy of every process did some of it.
    served = {
        key: sum(
            1
            for record in stack.json_logs(key)
            if record.get("event") == "http.request"
            and (record.get("method"), record.get("route")) == ("POST", "/orders")
        )
        for key in web_ports
    }
    relayed = {f"relay{copy}": published_count(stack, f"relay{copy}", by="messaging.relay") for copy in COPIES}
    # The relays publish the web's rows; the consumers publish what they commit.
    publishers = [f"{consumer}{copy}" for consumer in CONSUMERS for copy in COPIES]
    relayed |= {key: published_count(stack, key, by="messaging.dispatch") for key in publishers}
    handled = {f"{consumer}{copy}": handled_ok(stack, f"{consumer}{copy}") for consumer in CONSUMERS for copy in COPIES}
    print(
        f"\nscale-out: {ORDERS} orders placed in {placed_in:.1f}s, all terminal after {settled_in:.1f}s: {counts}"
        f"\n  web requests {served}\n  published rows {relayed}\n  consumer messages {handled}"
        f"\n  inventory logs {logs}, payments {payments}"
    )
    assert all(count > 0 for count in served.values()), served
    assert all(count > 0 for count in handled.values()), handled
    assert all(relayed[f"relay{copy}"] > 0 for copy in COPIES), relayed
    # Each saga's messages: reserve + reply, then payment + reply, then (compensation) release + reply.
    messages_per_saga = 2 * ORDERS + 2 * (ORDERS - counts.get("FAILED", 0)) + 2 * counts.get("COMPENSATED", 0)
    assert sum(relayed.values()) >= messages_per_saga


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
