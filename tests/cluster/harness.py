"""The loopback cluster of `make cluster`, a paced burst of orders, and the figures of one fault run.

The cluster (deploy/cluster/cluster.sh) writes its addresses to ``$CLUSTER_DIR/cluster.env``;
the stack's processes get every RabbitMQ node in one ``;``-separated broker URL (kombu's
failover list) and reach Galera through HAProxy. Each fault run is one fresh stack (fresh
databases, fresh vhost with quorum queues) under a burst of ``CLUSTER_ORDERS`` orders placed at
``CLUSTER_RATE`` orders a second, with the fault striking a quarter of the way in.
"""

import collections
import concurrent.futures
import datetime
import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

from tests.faults.harness import post, reconcile
from tests.stack import ROOT

CLUSTER_DIR = Path(os.environ.get("CLUSTER_DIR", "/tmp/saga-cluster"))
SCRIPT = ROOT / "deploy" / "cluster" / "cluster.sh"
ORDERS = int(os.environ.get("CLUSTER_ORDERS", "1000"))
RATE = float(os.environ.get("CLUSTER_RATE", "50"))
SETTLE_BOUND = float(os.environ.get("CLUSTER_SETTLE_BOUND", "240"))
CLIENT_THREADS = 64
# The settings the cluster runs use beside the URLs; deploy/ ships the same (tests/test_deploy.py).
CLUSTER_SETTINGS = {
    "RABBITMQ_QUEUE_TYPE": "quorum",
    "RABBITMQ_DELIVERY_LIMIT": "20",
    "RABBITMQ_DLQ_DELIVERY_LIMIT": "1000",
}
STOCK = 100_000
SCARCE = 40
NODES = (1, 2, 3)


def cluster(*args, timeout: float = 300) -> str:
    """Run deploy/cluster/cluster.sh with ``args``; its stdout."""
    result = subprocess.run(
        ["bash", str(SCRIPT), *map(str, args)],
        env={**os.environ, "CLUSTER_DIR": str(CLUSTER_DIR)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"cluster.sh {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def cluster_env() -> dict[str, str] | None:
    path = CLUSTER_DIR / "cluster.env"
    if not path.exists():
        return None
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def rabbit_pid(node: int) -> int | None:
    path = CLUSTER_DIR / "rabbitmq" / f"node{node}" / "rabbit.pid"
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def rabbitmqctl(*args: str) -> str:
    """rabbitmqctl on the first node that runs (any node speaks for the cluster)."""
    for node in NODES:
        if rabbit_pid(node) is not None:
            return cluster("rabbitmqctl", node, "-q", *args, timeout=90)
    raise AssertionError("no RabbitMQ node of the cluster runs")


def queue_leaders(vhost: str) -> collections.Counter:
    """How many of ``vhost``'s quorum queues each node leads, by node number."""
    queues = json.loads(rabbitmqctl("list_queues", "-p", vhost, "name", "type", "leader", "--formatter", "json"))
    return collections.Counter(
        int(queue["leader"].split("@")[0].removeprefix("saga-c")) for queue in queues if queue.get("type") == "quorum"
    )


def durable_queue_types(vhost: str) -> dict[str, str]:
    """Every durable queue of ``vhost`` and its type (Celery's transient reply and control queues aside)."""
    queues = json.loads(rabbitmqctl("list_queues", "-p", vhost, "name", "type", "durable", "--formatter", "json"))
    return {queue["name"]: queue["type"] for queue in queues if queue["durable"]}


def galera_writer(stack) -> int:
    """The Galera node HAProxy sends connections to now."""
    [(name,)] = stack.sql("orders", "SELECT @@wsrep_node_name")
    return int(name.rsplit("-", 1)[1])


class PacedLoad:
    """``count`` orders, order n sent at ``n / rate`` seconds; a careful client (Idempotency-Key, retries)."""

    def __init__(self, stack, *, products: list[int], count: int = ORDERS, rate: float = RATE):
        self.stack, self.products, self.count, self.rate = stack, products, count, rate
        self.accepted: list[int] = []
        self.retries = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=CLIENT_THREADS)
        self.started = time.monotonic()
        self.last_sent = self.last_accepted = self.started
        self._futures = [self._pool.submit(self._place, n) for n in range(count)]

    def _place(self, n: int) -> None:
        time.sleep(max(0.0, self.started + n / self.rate - time.monotonic()))
        with self._lock:
            self.last_sent = max(self.last_sent, time.monotonic())
        body = {
            "user_id": 8000 + n % 50,
            "product_id": self.products[n % len(self.products)],
            "quantity": 1 + n % 3,
            "total_amount": f"{10 + n % 7}.99",
        }
        key = uuid.uuid4().hex
        status, answer = 0, {}
        for attempt in range(30):
            status, answer = post(
                self.stack.port, "/orders", body, headers={"Idempotency-Key": key, **self.stack.auth_headers()}
            )
            if status == 201:
                with self._lock:
                    self.accepted.append(answer["order_id"])
                    self.retries += attempt
                    self.last_accepted = time.monotonic()
                return
            time.sleep(min(0.1 * 2**attempt, 2))
        with self._lock:
            self.errors.append(f"order {n} never accepted: {status} {answer}")

    def wait_sent(self, share: float) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.last_sent - self.started < share * self.count / self.rate:
            time.sleep(0.05)

    def finish(self) -> float:
        """Wait for every order's answer; the rate the orders were accepted at (orders/s)."""
        for future in self._futures:
            future.result(timeout=600)
        self._pool.shutdown()
        return len(self.accepted) / max(self.last_accepted - self.started, 1e-9)


def seed_products(stack, first: int) -> list[int]:
    products = [first + n for n in range(5)]
    for product_id in products:
        stack.seed(product_id, STOCK if product_id != products[-1] else SCARCE)
    return products


def measure(stack, load: PacedLoad, *, fault: str, fault_at: float) -> dict:
    """Wait (up to CLUSTER_SETTLE_BOUND) for every accepted order's saga to end; the run's figures.

    ``fault_at`` is the wall-clock time (time.time()) the fault struck.
    """
    rate = load.finish()
    ids = list(load.accepted)
    marks = ",".join(["%s"] * len(ids))
    terminal = "('COMPLETED', 'COMPENSATED', 'FAILED')"
    deadline = time.monotonic() + SETTLE_BOUND
    ended = 0
    while time.monotonic() < deadline:
        [(ended,)] = _sql(
            stack,
            "orders",
            f"SELECT COUNT(*) FROM saga_states WHERE order_id IN ({marks}) AND status IN {terminal}",
            ids,
        )
        if ended == len(ids):
            break
        time.sleep(1)
    [(last_end,)] = _sql(stack, "orders", f"SELECT MAX(updated_at) FROM saga_states WHERE order_id IN ({marks})", ids)
    undispatched = "SELECT COUNT(*) FROM messaging_outbox WHERE dispatched_at IS NULL"
    while time.monotonic() < deadline:
        drained = all(_sql(stack, alias, undispatched)[0][0] == 0 for alias in ("orders", "inventory", "payments"))
        held = _sql(stack, "inventory", "SELECT COALESCE(SUM(reserved_qty), 0) FROM inventories")[0][0]
        if drained and held == 0:
            break
        time.sleep(1)
    for _ in range(5):
        result = reconcile(stack)
        if result.returncode == 0:
            break
        time.sleep(3)
    statuses = dict(_sql(stack, "orders", f"SELECT id, status FROM orders WHERE id IN ({marks})", ids))
    confirmed = [order_id for order_id, status in statuses.items() if status == "CONFIRMED"]
    fault_utc = datetime.datetime.fromtimestamp(fault_at, datetime.UTC).replace(tzinfo=None)
    figures = {
        "fault": fault,
        "orders_sent": load.count,
        "accepted": len(ids),
        "accepted_per_s": round(rate, 1),
        "terminal": int(ended),
        "lost": len(ids) - int(ended),
        "double_charges": double_charges(stack, ids, confirmed),
        "double_reservations": double_reservations(stack, ids, confirmed),
        "reconcile": "clean" if result.returncode == 0 else "VIOLATIONS",
        "outcomes": dict(sorted(collections.Counter(statuses.values()).items())),
        "client_retries": load.retries,
        "fault_to_last_terminal_s": round((last_end - fault_utc).total_seconds(), 1) if last_end else None,
    }
    record(figures)
    assert not load.errors, load.errors[:5]
    assert figures["lost"] == 0, figures
    assert figures["double_charges"] == 0, figures
    assert figures["double_reservations"] == 0, figures
    assert result.returncode == 0, f"reconcile found violations:\n{result.stdout}\n{result.stderr}"
    return figures


def double_charges(stack, ids: list[int], confirmed: list[int]) -> int:
    """Payment rows beyond one per order, and kept charges beyond the confirmed orders."""
    marks = ",".join(["%s"] * len(ids))
    [(extra_rows,)] = _sql(
        stack, "payments", f"SELECT COUNT(*) - COUNT(DISTINCT order_id) FROM payments WHERE order_id IN ({marks})", ids
    )
    [(kept,)] = _sql(
        stack, "payments", f"SELECT COUNT(*) FROM payments WHERE status = 'SUCCESS' AND order_id IN ({marks})", ids
    )
    return int(extra_rows) + abs(int(kept) - len(confirmed))


def double_reservations(stack, ids: list[int], confirmed: list[int]) -> int:
    """Reserve decisions beyond one per order, and units sold beyond what the confirmed orders bought."""
    marks = ",".join(["%s"] * len(ids))
    [(extra_reserves,)] = _sql(
        stack,
        "inventory",
        "SELECT COUNT(*) - COUNT(DISTINCT order_id) FROM inventory_logs"
        f" WHERE action = 'RESERVE' AND order_id IN ({marks})",
        ids,
    )
    [(sold,)] = _sql(
        stack,
        "inventory",
        "SELECT COALESCE(SUM(quantity), 0) FROM inventory_logs"
        f" WHERE action = 'COMMIT' AND outcome = 'APPLIED' AND order_id IN ({marks})",
        ids,
    )
    bought = 0
    if confirmed:
        [(bought,)] = _sql(
            stack,
            "orders",
            "SELECT COALESCE(SUM(quantity), 0) FROM order_lines"
            f" WHERE order_id IN ({','.join(['%s'] * len(confirmed))})",
            confirmed,
        )
    return int(extra_reserves) + abs(int(sold) - int(bought))


def _sql(stack, alias: str, query: str, params=()) -> list[tuple]:
    """A read that rides out the fault's after-effects (a proxy moving, a server coming back)."""
    for attempt in range(30):
        try:
            return stack.sql(alias, query, params)
        except Exception:
            if attempt == 29:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def record(figures: dict) -> None:
    line = json.dumps(figures, sort_keys=True)
    print(f"\ncluster fault figures: {line}")
    path = os.environ.get("CLUSTER_RESULTS")
    if path:
        with open(path, "a") as handle:
            handle.write(line + "\n")
