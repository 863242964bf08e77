"""Load, settle and measure: what every fault scenario shares.

A scenario places orders from a thread pool while its fault strikes, then waits
for every order to end, for the outboxes to drain and for ``manage.py
reconcile`` to find nothing, and records the figures (orders, lost, duplicated
effects, time to settle) for docs/reliability.md.

The client behaves like a careful real one: every order carries an
``Idempotency-Key`` and a request that fails (a 5xx, a dropped connection) is
retried with the same key, so a retried order is placed once.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from tests.stack import ROOT, Stack

# FAULT_ORDERS=2000 for a soak; the default keeps each scenario within ~40 s on two cores.
ORDERS = int(os.environ.get("FAULT_ORDERS", "300"))
# Generous: recovery re-sends after SAGA_RECOVERY_AGE (10 s) and runs every 5 s on the test stack.
SETTLE_BOUND = float(os.environ.get("FAULT_SETTLE_BOUND", "120"))
STOCK = 100_000
# One product per scenario has too little stock, so some orders fail and their sagas end FAILED.
SCARCE = 25
CLIENT_THREADS = 8


class Load:
    """Places ``count`` orders in the background; ``wait_placed`` lets the fault strike mid-load."""

    def __init__(self, stack: Stack, *, products: list[int], count: int = ORDERS):
        self.stack = stack
        self.products = products
        self.count = count
        self.placed: list[int] = []
        self.retries = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=CLIENT_THREADS)
        self.started = time.monotonic()
        self.placed_in = 0.0
        self._futures = [self._pool.submit(self._place, n) for n in range(count)]

    def _place(self, n: int) -> None:
        body = {
            "user_id": 7000 + n % 50,
            "product_id": self.products[n % len(self.products)],
            "quantity": 1 + n % 3,
            "total_amount": f"{10 + n % 7}.99",
        }
        key = uuid.uuid4().hex
        for attempt in range(20):
            status, answer = post(
                self.stack.port, "/orders", body, headers={"Idempotency-Key": key, **self.stack.auth_headers()}
            )
            if status == 201:
                with self._lock:
                    self.placed.append(answer["order_id"])
                    self.retries += attempt
                return
            time.sleep(min(0.1 * 2**attempt, 2))
        with self._lock:
            self.errors.append(f"order {n} never placed: {status} {answer}")

    def wait_placed(self, share: float, *, timeout: float = 60) -> None:
        """Block until ``share`` of the orders are placed."""
        self.stack.wait_until(
            lambda: len(self.placed) >= self.count * share or self._pool_done(),
            timeout=timeout,
            what=f"{share:.0%} of {self.count} orders placed",
            interval=0.05,
        )

    def _pool_done(self) -> bool:
        return all(future.done() for future in self._futures)

    def finish(self) -> list[int]:
        for future in self._futures:
            future.result(timeout=300)
        self._pool.shutdown()
        self.placed_in = time.monotonic() - self.started
        assert not self.errors, self.errors[:5]
        return list(self.placed)


def post(port: int, path: str, body: dict, *, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except OSError as error:
        return 0, {"error": str(error)}


def seed_products(stack: Stack, first: int) -> list[int]:
    """Four well-stocked products and a scarce one, numbered from ``first``."""
    products = [first + n for n in range(5)]
    for product_id in products:
        seed(stack, product_id, STOCK if product_id != products[-1] else SCARCE)
    return products


def seed(stack: Stack, product_id: int, available_qty: int) -> None:
    """Add stock, retrying as the order client does: a worker's database connection killed by an
    earlier scenario fails its next request once (CONN_HEALTH_CHECKS is off), and a retry of a
    create that did commit answers 409."""
    for attempt in range(10):
        status, answer = post(
            stack.port,
            "/inventory",
            {"product_id": product_id, "available_qty": available_qty},
            headers=stack.auth_headers(),
        )
        if status == 201 or (status == 409 and attempt):
            return
        time.sleep(0.2)
    raise AssertionError(f"could not seed product {product_id}: {status} {answer}")


def reconcile(stack: Stack) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "reconcile", "--saga-age", "0", "--outbox-age", "0"],
        cwd=ROOT,
        env=stack.base_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settle(stack: Stack, load: Load, *, fault: str, since: float | None = None, timeout: float = SETTLE_BOUND) -> dict:
    """Wait for every placed order to end and the databases to reconcile; assert and record the figures.

    Times count from the later of ``since`` (a ``time.monotonic()``, when the fault ended) and the last order placed.
    """
    order_ids = load.finish()
    since = max(since or 0.0, time.monotonic())
    statuses = stack.wait_terminal(order_ids, timeout=timeout)
    terminal_in = time.monotonic() - since
    undispatched = "SELECT COUNT(*) FROM messaging_outbox WHERE dispatched_at IS NULL"
    stack.wait_until(
        lambda: (
            all(stack.sql(alias, undispatched)[0][0] == 0 for alias in ("orders", "inventory", "payments"))
            and stack.sql("inventory", "SELECT COALESCE(SUM(reserved_qty), 0) FROM inventories")[0][0] == 0
        ),
        timeout=timeout,
        what="outboxes drained and no stock held",
        interval=0.5,
    )
    for _ in range(5):
        result = reconcile(stack)
        if result.returncode == 0:
            break
        time.sleep(2)
    assert result.returncode == 0, f"reconcile found violations:\n{result.stdout}\n{result.stderr}"
    settled_in = time.monotonic() - since

    placeholders = ",".join(["%s"] * len(order_ids))
    [(in_database,)] = stack.sql("orders", f"SELECT COUNT(*) FROM orders WHERE id IN ({placeholders})", order_ids)
    # Orders of this scenario's products the database holds: a retried request must not have placed a second one.
    [(held,)] = stack.sql(
        "orders",
        "SELECT COUNT(DISTINCT order_id) FROM order_lines"
        f" WHERE product_id IN ({','.join(['%s'] * len(load.products))})",
        load.products,
    )
    outcome = {
        status: sum(1 for value in statuses.values() if value == status) for status in sorted(set(statuses.values()))
    }
    confirmed = [order_id for order_id, status in statuses.items() if status == "CONFIRMED"]
    duplicated = duplicated_effects(stack, order_ids, confirmed)
    figures = {
        "fault": fault,
        "orders": len(order_ids),
        "lost": len(order_ids) - in_database,
        "duplicated_orders": held - len(set(order_ids)),
        "duplicated_effects": duplicated,
        "outcomes": outcome,
        "client_retries": load.retries,
        "placed_in_s": round(load.placed_in, 1),
        "terminal_in_s": round(terminal_in, 1),
        "settled_in_s": round(settled_in, 1),
    }
    record(figures)
    assert figures["lost"] == 0, figures
    assert figures["duplicated_orders"] == 0, figures
    assert duplicated == 0, figures
    return figures


def duplicated_effects(stack: Stack, order_ids: list[int], confirmed: list[int]) -> int:
    """Stock or money moved more than once: sold units beyond what confirmed orders bought, charges beyond them."""
    placeholders = ",".join(["%s"] * len(order_ids))
    [(sold,)] = stack.sql(
        "inventory",
        f"SELECT COALESCE(SUM(quantity), 0) FROM inventory_logs WHERE action = 'COMMIT' AND outcome = 'APPLIED' "
        f"AND order_id IN ({placeholders})",
        order_ids,
    )
    [(bought,)] = (
        stack.sql(
            "orders",
            "SELECT COALESCE(SUM(quantity), 0) FROM order_lines"
            f" WHERE order_id IN ({','.join(['%s'] * len(confirmed))})",
            confirmed,
        )
        if confirmed
        else [(0,)]
    )
    [(kept,)] = stack.sql(
        "payments",
        f"SELECT COUNT(*) FROM payments WHERE status = 'SUCCESS' AND order_id IN ({placeholders})",
        order_ids,
    )
    [(rows,)] = stack.sql(
        "payments",
        f"SELECT COUNT(*) - COUNT(DISTINCT order_id) FROM payments WHERE order_id IN ({placeholders})",
        order_ids,
    )
    return abs(int(sold) - int(bought)) + abs(int(kept) - len(confirmed)) + int(rows)


def record(figures: dict) -> None:
    line = json.dumps(figures, sort_keys=True)
    print(f"\nfault figures: {line}")
    path = os.environ.get("FAULT_RESULTS")
    if path:
        with open(path, "a") as handle:
            handle.write(line + "\n")
