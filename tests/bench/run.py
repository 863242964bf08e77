"""make bench: the Procfile topology on MariaDB + RabbitMQ, measured side by side with a baseline.

One run measures: intake (POST /orders, wrk, 50 connections, as customers with
bearer tokens) against a raw-SQL baseline view, with every process running and
bare (no relay, no consumers); end-to-end saga throughput and latency at
open-loop rates, and at half the sustainable one; the relay draining 20,000
rows with batched confirms against one confirm at a time; and a hot SKU. Every
figure is the median of ``--repeats`` runs. Any answer but a 2xx (or a socket
error) fails the run: no figure is reported for a load that was refused. The
processes log as production does (LOG_LEVEL=INFO, LOG_FORMAT=json) unless
``--log-level`` says otherwise. The report goes to docs/bench-results.json and,
with ``--update-docs``, to the "Latest run" section of docs/benchmarks.md
(otherwise that section is written beside the run's logs).
"""

import argparse
import collections
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import MySQLdb

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from apps.common.progress import OnProgress, no_progress, progress  # noqa: E402
from tests.stack import Stack, free_port  # noqa: E402

FIRST_PRODUCT = 5001
UNIT_PRICE = "19.99"
CONSUMERS = ("orders-consumer", "inventory-consumer", "payments-consumer")
# What a bare baseline run stops: everything that would act on the rows it writes.
SAGA_PROCESSES = ("relay", "beat", *CONSUMERS)
WRK_SCRIPT = Path(__file__).with_name("post_orders.lua")
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
LOG_FORMAT = "json"


class BenchFailed(RuntimeError):
    """A run the bench will not turn into a figure: refused requests, socket errors, a target not answering 201."""


class Load:
    """What each order of the bench is: ``lines`` lines of one unit over ``products`` products, placed in
    turn by the customers whose bearer tokens are in ``tokens_file``, one a line."""

    def __init__(self, *, lines: int, products: int, tokens: list[str], tokens_file: Path):
        self.lines = lines
        self.products = products
        self.tokens = tokens
        self.tokens_file = tokens_file
        tokens_file.write_text("".join(f"{token}\n" for token in tokens))

    def body(self, index: int) -> str:
        """The JSON body of order ``index``, as post_orders.lua builds it."""
        items = [
            {"product_id": FIRST_PRODUCT + (index + line) % self.products, "quantity": 1} for line in range(self.lines)
        ]
        return json.dumps({"lines": items})

    def headers(self, index: int) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.tokens[index % len(self.tokens)]}"}

    def wrk_env(self) -> dict[str, str]:
        return {
            "BENCH_TOKENS": str(self.tokens_file),
            "BENCH_LINES": str(self.lines),
            "BENCH_PRODUCTS": str(self.products),
            "BENCH_FIRST_PRODUCT": str(FIRST_PRODUCT),
        }


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def median(values):
    return round(statistics.median(values), 2) if values else None


def median_figures(runs: list[dict]) -> dict:
    """The median of each figure over runs; nested figures (CPU per process) key by key."""
    return {
        key: median_figures([run[key] for run in runs]) if isinstance(value, dict) else median([r[key] for r in runs])
        for key, value in runs[0].items()
    }


# --- load generators ---------------------------------------------------------------
def wrk(port: int, *, seconds: int, load: Load, what: str, connections: int = 50) -> dict:
    """wrk's figures for POST /orders on ``port`` under ``load``.

    Raises BenchFailed when any answer was not a 2xx, or a request met a socket error.
    """
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
        env={**os.environ, **load.wrk_env()},
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("WRK_JSON "))
    figures = json.loads(line.removeprefix("WRK_JSON "))
    if figures["non_2xx"] or figures["socket_errors"] or not figures["requests"]:
        raise BenchFailed(
            f"{what}: {figures['requests']} answers by status {figures['statuses']}, {figures['socket_errors']}"
            f" socket errors; a run with refused or failed requests gives no figure"
        )
    return figures


def expect_created(port: int, *, load: Load, what: str) -> None:
    """POST one order to ``port`` as the load does; raise BenchFailed, with the answer, unless it is a 201.

    A target that refuses every request would otherwise show only in wrk's status counts."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/orders", load.body(0), load.headers(0))
        response = connection.getresponse()
        answer = response.read()[:500].decode(errors="replace")
    finally:
        connection.close()
    if response.status != 201:
        raise BenchFailed(f"{what}: POST /orders answered {response.status} {answer}")


def open_loop(port: int, *, rate: int, seconds: int, load: Load) -> None:
    """Send ``rate`` orders per second for ``seconds``, on schedule whatever the responses do.

    Raises BenchFailed when any answer was not a 201, or a request failed.
    """
    total = rate * seconds
    started = time.monotonic() + 0.2
    next_index = iter(range(total))
    lock = threading.Lock()
    errors = []

    def sender():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                connection.request("POST", "/orders", load.body(index), load.headers(index))
                response = connection.getresponse()
                response.read()
                if response.status != 201:
                    errors.append(response.status)
            except OSError as error:
                errors.append(str(error))
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    threads = [threading.Thread(target=sender) for _ in range(min(64, max(8, rate // 8)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        counts = collections.Counter(errors)
        raise BenchFailed(f"open loop at {rate}/s: {len(errors)} of {total} requests failed: {dict(counts)}")


def sustainable(figures: dict, *, rate: int, drain: float) -> bool:
    """Whether the system kept up with ``rate``: saga p99 under a second, the backlog drained within 5 s, and
    the web taking orders at the rate offered (a web that falls behind holds the senders back, and the
    database's timestamps, which start when an order is accepted, would not show that wait)."""
    return figures["latency_p99_ms"] < 1000 and drain < 5 and figures["orders_accepted_per_s"] >= 0.95 * rate


# --- where the CPU goes ---------------------------------------------------------------
SERVERS = {"mariadbd": "mariadb", "beam.smp": "rabbitmq"}


def cpu_seconds(stack: Stack, *, also: dict[int, str] | None = None) -> dict[str, float]:
    """CPU seconds used so far by each stack process (children included), MariaDB and RabbitMQ.

    Every Procfile process runs in its own session, so a gunicorn worker or a
    Celery child counts toward the process that started it; ``also`` names more
    sessions by their leader's pid (the baseline's gunicorn).
    """
    sessions = {process.pid: key for key, process in stack.processes.items()} | (also or {})
    ticks = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        key = sessions.get(int(fields[3])) or SERVERS.get(comm)
        if key is not None:
            totals[key] = totals.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return totals


def cpu_per_saga(
    before: dict[str, float], after: dict[str, float], sagas: int, *, only: tuple[str, ...] | None = None
) -> dict[str, float]:
    """Milliseconds of CPU per saga (or request) for each process between two cpu_seconds() snapshots,
    of the processes ``only`` names if given."""
    used = {key: after[key] - before.get(key, 0.0) for key in after if only is None or key in only}
    used["total"] = sum(used.values())
    return {key: round(seconds * 1000 / max(sagas, 1), 2) for key, seconds in sorted(used.items())}


def busy_fraction(interval: float = 1.0) -> float:
    """How busy the machine's CPUs were over the next ``interval`` seconds (0 idle, 1 saturated)."""

    def sample():
        with open("/proc/stat") as handle:
            ticks = [int(value) for value in handle.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # idle + iowait

    total_before, idle_before = sample()
    time.sleep(interval)
    total_after, idle_after = sample()
    return 1 - (idle_after - idle_before) / max(total_after - total_before, 1)


def wait_quiet(*, below: float = 0.15, timeout: float = 120) -> None:
    """Wait until the machine is quiet: what a previous section left (MariaDB purging, a backlog) must not
    eat into the next one's figures. Logs the seconds waited."""
    started = time.monotonic()
    while busy_fraction() > below and time.monotonic() - started < timeout:
        pass
    log(f"machine quiet after {time.monotonic() - started:.1f}s")


# --- measurements ------------------------------------------------------------------
class Bench:
    def __init__(
        self,
        stack: Stack,
        *,
        load: Load,
        repeats: int,
        seconds: int,
        quiet_timeout: float = 120,
        on_progress: OnProgress = no_progress,
    ):
        self.stack = stack
        self.load = load
        self.repeats = repeats
        self.seconds = seconds
        self.quiet_timeout = quiet_timeout
        self.on_progress = on_progress
        self.measured = 0
        self.measurements: int | None = None

    def plan(self, only: set[str], *, rates: int) -> None:
        """How many measurements the run will take, for the progress bar (open loop: the rates and half the
        sustainable one)."""
        per_part = {
            "intake": 3 * self.repeats,
            "open_loop": rates + 1,
            "relay": 3 * self.repeats,
            "hot_sku": self.repeats,
        }
        self.measurements = sum(count for part, count in per_part.items() if part in only)
        self.on_progress(0, self.measurements)

    def measured_one(self) -> None:
        self.measured += 1
        self.on_progress(self.measured, self.measurements)

    def quiet(self) -> None:
        wait_quiet(timeout=self.quiet_timeout)

    def max_order_id(self) -> int:
        return self.stack.sql("orders", "SELECT COALESCE(MAX(id), 0) FROM orders")[0][0]

    def wait_drained(self, after_id: int, *, timeout: float = 300) -> float:
        started = time.monotonic()
        query = "SELECT COUNT(*) FROM saga_states WHERE order_id > %s AND status IN ('IN_PROGRESS', 'COMPENSATING')"
        while self.stack.sql("orders", query, [after_id])[0][0]:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"sagas still active after {timeout}s")
            time.sleep(0.25)
        return time.monotonic() - started

    def saga_figures(self, first_id: int, last_id: int) -> dict:
        rows = self.stack.sql(
            "orders",
            "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, completed_at) / 1e6, created_at, completed_at, status"
            " FROM saga_states WHERE order_id > %s AND order_id <= %s",
            [first_id, last_id],
        )
        latencies = sorted(float(row[0]) for row in rows)
        span = (max(row[2] for row in rows) - min(row[1] for row in rows)).total_seconds()
        # What the web actually took in: an open loop offers its rate, the web may accept less.
        created = (max(row[1] for row in rows) - min(row[1] for row in rows)).total_seconds()

        def pct(q):
            return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)

        return {
            "sagas": len(rows),
            "completed": sum(1 for row in rows if row[3] == "COMPLETED"),
            "sagas_per_s": round(len(rows) / span, 1),
            "orders_accepted_per_s": round(len(rows) / max(created, 0.001), 1),
            "latency_p50_ms": pct(0.50),
            "latency_p95_ms": pct(0.95),
            "latency_p99_ms": pct(0.99),
        }

    def batches(self) -> dict[str, tuple[float, float]]:
        """Each consumer's (deliveries, batches) so far, from its consumer_batch_size histogram."""
        totals = {}
        for key in CONSUMERS:
            samples = self.stack.metrics(key)
            totals[key] = tuple(
                sum(value for (name, _labels), value in samples.items() if name == f"consumer_batch_size_{part}")
                for part in ("sum", "count")
            )
        return totals

    def mean_batch(self, before: dict[str, tuple[float, float]]) -> dict[str, float]:
        """Deliveries per batch each consumer handled since ``before``: how much its per-batch work was shared."""
        after = self.batches()
        return {
            key.removesuffix("-consumer"): round(
                (after[key][0] - before[key][0]) / max(after[key][1] - before[key][1], 1), 2
            )
            for key in CONSUMERS
        }

    def intake(self, baseline: subprocess.Popen, baseline_port: int) -> dict:
        """Per repeat: ours, the baseline with every process running (its sagas run too), and the baseline bare."""
        ours, with_sagas, bare, end_to_end = [], [], [], []
        for run in range(self.repeats):
            self.quiet()
            before = self.max_order_id()
            log(f"intake run {run + 1}: POST /orders, wrk 50 connections, {self.seconds}s")
            cpu_before, batches_before = cpu_seconds(self.stack), self.batches()
            ours.append(wrk(self.stack.port, seconds=self.seconds, load=self.load, what="POST /orders (ours)"))
            drain = self.wait_drained(before)
            figures = self.saga_figures(before, self.max_order_id())
            figures["cpu_ms_per_saga"] = cpu_per_saga(cpu_before, cpu_seconds(self.stack), figures["sagas"])
            figures["drain_after_load_s"] = round(drain, 1)
            self.expect_completed(before, what="our sagas")
            ours[-1]["mean_batch"] = self.mean_batch(batches_before)
            end_to_end.append(figures)
            log(f"  ours {ours[-1]['rps']} req/s, batches {ours[-1]['mean_batch']}, sagas {figures}")
            self.measured_one()
            self.quiet()
            before, batches_before = self.max_order_id(), self.batches()
            log(f"intake run {run + 1}: baseline view, every process running")
            with_sagas.append(wrk(baseline_port, seconds=self.seconds, load=self.load, what="baseline with sagas"))
            # The baseline leaves its rows to the relay's sweep: its sagas may still be running here.
            with_sagas[-1]["drain_after_load_s"] = round(self.wait_drained(before), 1)
            with_sagas[-1]["saga_statuses"] = self.expect_completed(before, what="the baseline's sagas")
            with_sagas[-1]["mean_batch"] = self.mean_batch(batches_before)
            log(f"  baseline {with_sagas[-1]['rps']} req/s, {with_sagas[-1]}")
            self.measured_one()
            bare.append(self.bare_baseline(baseline, baseline_port, run=run))
        summary = {
            "ours": median_figures(ours),
            "baseline": median_figures(with_sagas),
            "bare_baseline": median_figures(bare),
            "runs": {"ours": ours, "baseline": with_sagas, "bare_baseline": bare},
        }
        # Ours against the baseline in the same conditions: every process running, the sagas sharing the cores.
        summary["ratio"] = round(summary["ours"]["rps"] / summary["baseline"]["rps"], 3)
        summary["end_to_end"] = median_figures(end_to_end) | {"runs": end_to_end}
        # A saga end to end against the least a request can cost with nothing else running.
        summary["end_to_end_over_bare"] = round(
            summary["end_to_end"]["sagas_per_s"] / summary["bare_baseline"]["rps"], 3
        )
        summary["cpu_per_saga_over_bare_request"] = round(
            summary["end_to_end"]["cpu_ms_per_saga"]["total"] / summary["bare_baseline"]["cpu_ms_per_request"]["total"],
            2,
        )
        return summary

    def expect_completed(self, after_id: int, *, what: str) -> dict[str, int]:
        """The statuses of the sagas of orders after ``after_id``; raise BenchFailed unless every one completed.

        A saga that failed (a refused signature, a product without a price) costs less than one that
        completes: its figure would flatter the side it ran on."""
        statuses = dict(
            self.stack.sql(
                "orders", "SELECT status, COUNT(*) FROM saga_states WHERE order_id > %s GROUP BY status", [after_id]
            )
        )
        if set(statuses) != {"COMPLETED"}:
            raise BenchFailed(f"{what}: saga statuses {statuses}, not all COMPLETED")
        return statuses

    def bare_baseline(self, baseline: subprocess.Popen, baseline_port: int, *, run: int) -> dict:
        """The baseline with no relay, beat or consumer running, and the CPU its gunicorn and MariaDB spend a request.

        The rows it writes would start sagas once the relay is back: they are deleted first.
        """
        for key in SAGA_PROCESSES:
            self.stack.stop(key)
        try:
            self.quiet()
            marks = self.row_marks()
            log(f"intake run {run + 1}: baseline view, bare (no relay, beat or consumer)")
            cpu_before = cpu_seconds(self.stack, also={baseline.pid: "baseline"})
            figures = wrk(baseline_port, seconds=self.seconds, load=self.load, what="bare baseline")
            # The requests still open when wrk stops go on and commit: per order written, once they have.
            figures["orders_written"] = self.settled_max_order_id() - marks["orders"]
            cpu_after = cpu_seconds(self.stack, also={baseline.pid: "baseline"})
            figures["cpu_ms_per_request"] = cpu_per_saga(
                cpu_before, cpu_after, figures["orders_written"], only=("baseline", "mariadb")
            )
            log(f"  bare baseline {figures['rps']} req/s, {figures}")
            self.forget_rows(marks)
        finally:
            for key in SAGA_PROCESSES:
                self.stack.start(key)
            self.stack.wait_until(self.consumers_serve, timeout=120, what="consumers up again")
        self.measured_one()
        return figures

    def settled_max_order_id(self, *, interval: float = 0.5) -> int:
        """The highest order id once no order has been added for ``interval`` seconds."""
        last = self.max_order_id()
        while True:
            time.sleep(interval)
            latest = self.max_order_id()
            if latest == last:
                return latest
            last = latest

    def consumers_serve(self) -> bool:
        """Whether every consumer answers on its metrics port, which it opens just before consuming."""
        try:
            self.batches()
        except OSError:
            return False
        return True

    ROW_TABLES = ("messaging_outbox", "saga_states", "order_lines", "orders")

    def row_marks(self) -> dict[str, int]:
        """The highest id of each table an order writes, on the orders database."""
        return {
            table: self.stack.sql("orders", f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0]
            for table in self.ROW_TABLES
        }

    def forget_rows(self, marks: dict[str, int]) -> None:
        """Delete every row written since ``marks``: nothing else writes there while the saga processes are down."""
        connection = MySQLdb.connect(**self.stack.mariadb, database=self.stack.databases["orders"], autocommit=True)
        try:
            for table in self.ROW_TABLES:
                connection.cursor().execute(f"DELETE FROM {table} WHERE id > %s", [marks[table]])
        finally:
            connection.close()

    def open_loop(self, rates: list[int]) -> list[dict]:
        return [self.open_loop_at(rate) for rate in rates]

    def open_loop_at(self, rate: int) -> dict:
        self.quiet()
        before = self.max_order_id()
        log(f"open loop: {rate} orders/s for {self.seconds}s")
        cpu_before = cpu_seconds(self.stack)
        open_loop(self.stack.port, rate=rate, seconds=self.seconds, load=self.load)
        drain = self.wait_drained(before, timeout=600)
        self.expect_completed(before, what=f"our sagas at {rate}/s")
        figures = self.saga_figures(before, self.max_order_id())
        figures["cpu_ms_per_saga"] = cpu_per_saga(cpu_before, cpu_seconds(self.stack), figures["sagas"])
        figures.update(rate=rate, drain_after_load_s=round(drain, 2))
        figures["sustainable"] = sustainable(figures, rate=rate, drain=drain)
        log(f"  {figures}")
        self.measured_one()
        return figures

    def half_sustainable(self, results: list[dict], sustainable_rate: int | None) -> dict | None:
        """Saga latency at half the sustainable rate: the sweep's run at that rate, or one more run."""
        if not sustainable_rate:
            self.measured_one()
            return None
        rate = max(1, sustainable_rate // 2)
        figures = next((result for result in results if result["rate"] == rate), None)
        if figures is None:
            figures = self.open_loop_at(rate)
        else:
            self.measured_one()
        keys = ("rate", "sagas_per_s", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "sustainable")
        return {key: figures[key] for key in keys}

    def relay(self, rows: int) -> dict:
        """Drain ``rows`` outbox rows into a separate vhost: batched confirms against one at a time."""
        import django

        django.setup()
        from django.db import connections

        from apps.messaging.models import OutboxMessage
        from apps.messaging.publisher import ConfirmingPublisher
        from apps.messaging.relay import relay_drain
        from tests.bench.single_confirm import SingleConfirmPublisher
        from tests.stack import rabbitmqctl

        vhost = f"{self.stack.vhost}_relay"
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
        self.stack.stop("relay")
        self.stack.stop("beat")
        # batched: the relay as it runs (RELAY_DRAINERS threads, batches of RELAY_BATCH_SIZE, confirms
        # awaited per batch); batched_one_drainer: the same in one thread; one_at_a_time: one thread
        # waiting for each message's confirm before the next, the comparison point.
        kinds = (("batched", ConfirmingPublisher, None), ("batched_one_drainer", ConfirmingPublisher, 1))
        kinds += (("one_at_a_time", SingleConfirmPublisher, 1),)
        figures = {kind: [] for kind, _, _ in kinds}
        try:
            outbox = OutboxMessage.objects.using("orders")
            for run in range(self.repeats):
                for kind, publisher_class, drainers in kinds:
                    publisher = publisher_class(url, confirm_timeout=60)
                    ids = _insert_rows(outbox, rows)
                    self.quiet()
                    started = time.perf_counter()
                    published = relay_drain(using="orders", publisher=publisher, max_batches=10_000, drainers=drainers)
                    elapsed = time.perf_counter() - started
                    publisher.close()
                    outbox.filter(pk__in=ids).delete()
                    rabbitmqctl("purge_queue", "-p", vhost, "inventory.commands")
                    figures[kind].append(round(published / elapsed))
                    log(f"relay run {run + 1} {kind}: {published} rows in {elapsed:.2f}s = {published / elapsed:.0f}/s")
                    self.measured_one()
        finally:
            connections.close_all()
            rabbitmqctl("delete_vhost", vhost)
            self.stack.start("relay")
            self.stack.start("beat")
        result = {kind: median(values) for kind, values in figures.items()}
        result["ratio"] = round(result["batched"] / result["one_at_a_time"], 1)
        result["rows"] = rows
        result["runs"] = figures
        return result

    def hot_sku(self, orders: int = 1000, stock: int = 500) -> dict:
        runs = []
        for run in range(self.repeats):
            product_id = 9001 + run
            self.stack.seed(product_id, stock)
            self.quiet()
            before = self.max_order_id()
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
                list(
                    pool.map(
                        lambda _, product_id=product_id: self.stack.place_order(product_id=product_id), range(orders)
                    )
                )
            self.wait_drained(before)
            settle = time.monotonic() - started
            statuses = dict(
                self.stack.sql("orders", "SELECT status, COUNT(*) FROM orders WHERE id > %s GROUP BY status", [before])
            )
            reasons = dict(
                self.stack.sql(
                    "orders",
                    "SELECT failure_reason, COUNT(*) FROM orders WHERE id > %s AND status = 'FAILED'"
                    " GROUP BY failure_reason",
                    [before],
                )
            )
            inventory = self.stack.inventory(product_id)
            runs.append(
                {
                    "settle_s": round(settle, 2),
                    "confirmed": statuses.get("CONFIRMED", 0),
                    "failed": statuses.get("FAILED", 0),
                    "failure_reasons": reasons,
                    "available_qty": inventory["available_qty"],
                    "reserved_qty": inventory["reserved_qty"],
                    "sold_qty": inventory["sold_qty"],
                }
            )
            log(f"hot SKU run {run + 1}: {runs[-1]}")
            self.measured_one()
        return {"settle_s": median([r["settle_s"] for r in runs]), "runs": runs}


def _insert_rows(outbox, count: int) -> list[int]:
    from apps.messaging.contracts import ReserveInventory, StockLine
    from apps.messaging.models import OutboxMessage

    batch = []
    for order_id in range(count):
        message = ReserveInventory(
            saga_id=uuid.uuid4(), order_id=order_id + 1, lines=(StockLine(product_id=1, quantity=1),)
        )
        batch.append(
            OutboxMessage(
                exchange=message.exchange,
                routing_key=message.routing_key,
                message_type="ReserveInventory",
                payload=message.to_body(),
                traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
                saga_id=message.saga_id,
            )
        )
    created = outbox.bulk_create(batch, batch_size=2000)
    return [row.pk for row in created] or list(outbox.filter(dispatched_at__isnull=True).values_list("pk", flat=True))


# --- the run -----------------------------------------------------------------------
def machine() -> dict:
    def version(command):
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "unknown"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "mariadb": version(["mariadb", "--version"]),
        "rabbitmq": version(["rabbitmqctl", "version"]),
        "wrk": version(["wrk", "--version"]),
    }


def customers(count: int) -> list[str]:
    """Create ``count`` customers (plain users, no permission) with one API token each; their tokens."""
    _django()
    from django.db import connections

    from apps.accounts.services import customer_upsert, token_create

    try:
        return [token_create(user=customer_upsert(username=f"bench-customer-{i}"))[0] for i in range(count)]
    finally:
        connections.close_all()


def _django() -> None:
    import django

    django.setup()


def start_baseline(stack: Stack, *, workers: int) -> tuple[subprocess.Popen, int]:
    """The baseline view on gunicorn, ``workers`` sync workers, in a session of its own (its CPU is counted)."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "tests.bench.baseline:application",
            *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"),
        ],
        cwd=ROOT,
        env={**stack.base_env, **{name: os.environ[name] for name in ("DATABASE_URL", "ORDERS_DATABASE_URL")}},
        start_new_session=True,
    )
    stack.wait_until(lambda: _answers(port), timeout=30, what="baseline up")
    return process, port


def git_commit() -> str:
    """The short commit measured, ``+dirty`` when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rates", default="10,25,50,100,200,400")
    parser.add_argument("--relay-rows", type=int, default=20_000)
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "4")))
    parser.add_argument("--only", default="intake,open_loop,relay,hot_sku")
    parser.add_argument("--lines", type=int, default=1, help="lines per order, each a distinct product (1 to 50)")
    parser.add_argument(
        "--customers", type=int, default=1000, help="customers placing the orders in turn, each with its own token"
    )
    parser.add_argument(
        "--log-level",
        choices=("INFO", "WARNING"),
        default="INFO",
        help="LOG_LEVEL of every process; INFO is production's default (LOG_FORMAT is json either way)",
    )
    parser.add_argument(
        "--quiet-timeout",
        type=float,
        default=120,
        help="seconds to wait, at most, for a quiet machine before each measured run",
    )
    parser.add_argument("--output", default=str(ROOT / "docs" / "bench-results.json"))
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help=f"replace the Latest run section of {BENCHMARKS_MD.relative_to(ROOT)} (otherwise it is written beside "
        "the run's logs)",
    )
    args = parser.parse_args()
    if not 1 <= args.lines <= 50:
        parser.error("--lines is 1 to 50, as an order's lines are")
    only = set(args.only.split(","))

    workdir = Path(os.environ.get("BENCH_DIR", ROOT / "var" / "bench"))
    env = {
        "WEB_CONCURRENCY": str(args.web_workers),
        "LOG_LEVEL": args.log_level,
        "LOG_FORMAT": LOG_FORMAT,
        "SAGA_RECOVERY_AGE": "60",
    }
    os.environ.setdefault("TEST_RUN_ID", f"bench{int(time.time())}")
    stack = Stack(workdir / os.environ["TEST_RUN_ID"], env=env).create()
    for alias, database in stack.databases.items():
        os.environ[{"default": "DATABASE_URL"}.get(alias, f"{alias.upper()}_DATABASE_URL")] = (
            f"mysql://root@127.0.0.1:3306/{database}"
        )
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    # The relay measured in this process logs as the stack's processes do.
    os.environ.update(LOG_LEVEL=args.log_level, LOG_FORMAT=LOG_FORMAT)
    started = time.monotonic()
    baseline = None
    failure = None
    report = {
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": shlex.join(["python", "tests/bench/run.py", *sys.argv[1:]]),
        "machine": machine(),
    }
    report["settings"] = {
        "web_workers": args.web_workers,
        "repeats": args.repeats,
        "seconds": args.seconds,
        "lines": args.lines,
        "customers": args.customers,
        "log_level": args.log_level,
        "log_format": LOG_FORMAT,
    }
    rates = [int(rate) for rate in args.rates.split(",")]
    # A measurement takes a minute or so: off a terminal, say each one.
    with progress(sys.stderr, description="bench measurements", every=1) as on_progress:
        try:
            load = Load(
                lines=args.lines,
                products=max(10, args.lines),
                tokens=customers(args.customers),
                tokens_file=stack.workdir / "tokens.txt",
            )
            stack.start_all()
            for index in range(load.products):
                stack.seed(FIRST_PRODUCT + index, 10**12, unit_price=UNIT_PRICE)
            expect_created(stack.port, load=load, what="ours")
            bench = Bench(
                stack,
                load=load,
                repeats=args.repeats,
                seconds=args.seconds,
                quiet_timeout=args.quiet_timeout,
                on_progress=on_progress,
            )
            bench.plan(only, rates=len(rates))
            if "intake" in only:
                baseline, baseline_port = start_baseline(stack, workers=args.web_workers)
                expect_created(baseline_port, load=load, what="baseline")
                report["intake"] = bench.intake(baseline, baseline_port)
            if "open_loop" in only:
                report["open_loop"] = bench.open_loop(rates)
                sustainable = [r["rate"] for r in report["open_loop"] if r["sustainable"]]
                report["sustainable_rate"] = max(sustainable) if sustainable else None
                report["half_sustainable"] = bench.half_sustainable(report["open_loop"], report["sustainable_rate"])
            if "relay" in only:
                report["relay"] = bench.relay(args.relay_rows)
            if "hot_sku" in only:
                report["hot_sku"] = bench.hot_sku()
        except BenchFailed as error:
            failure = error
        finally:
            if baseline is not None:
                baseline.terminate()
                baseline.wait(timeout=20)
            stack.close()
    if failure is not None:
        log(f"FAILED, nothing written: {failure}")
        sys.exit(1)
    report["duration_s"] = round(time.monotonic() - started)
    Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"wrote {args.output}")
    section = latest_run_section(report)
    if args.update_docs:
        replace_latest_run(BENCHMARKS_MD, section)
        log(f"wrote the Latest run section of {BENCHMARKS_MD}")
    else:
        (stack.workdir / "latest-run.md").write_text(section)
        log(f"wrote {stack.workdir / 'latest-run.md'} (--update-docs puts it in {BENCHMARKS_MD.name})")
    print(json.dumps({key: value for key, value in report.items() if key != "machine"}, indent=2, default=str))


# --- the report's table ------------------------------------------------------------
TIMES = "\u00d7"


def latest_run_section(report: dict) -> str:
    """The Latest run section of docs/benchmarks.md: when, which commit, which command, on what, then the table."""
    when = report["started_at"].replace("T", " ")[:16] + " UTC"
    settings, machine_ = report["settings"], report["machine"]
    minutes, seconds = divmod(report.get("duration_s", 0), 60)
    lines = [
        "## Latest run",
        "",
        f"{when} on `{report['commit']}`, `{report['command']}` ({minutes} min {seconds} s). Machine:"
        f" {machine_['cores']} cores ({machine_['cpu']}), {machine_['memory_gib']} GiB, Python {machine_['python']},"
        f" MariaDB {_version(machine_['mariadb'])}, RabbitMQ {_version(machine_['rabbitmq'])}, wrk"
        f" {_version(machine_['wrk'])}. Logging: LOG_LEVEL="
        f"{settings['log_level']}, LOG_FORMAT={settings['log_format']}. Orders of {settings['lines']}"
        f" line{'s' if settings['lines'] > 1 else ''}, placed in turn by {settings['customers']} customers with"
        " their bearer tokens. Its JSON is `docs/bench-results.json`.",
        "",
    ]
    if settings["repeats"] < 3 or settings["seconds"] < 10:
        lines += [
            f"**A short run ({settings['repeats']} {TIMES} {settings['seconds']} s): it shows the harness works end to"
            " end; its figures are not to be quoted.**",
            "",
        ]
    lines += [f"| measure | {when[:16]} (`{report['commit']}`) | target |", "| --- | --- | --- |"]
    lines += [f"| {measure} | {figure} | {target} |" for measure, figure, target in _rows(report)]
    return "\n".join(lines) + "\n"


def _rows(report: dict):
    intake = report.get("intake")
    if intake:
        ours, with_sagas, bare = intake["ours"], intake["baseline"], intake["bare_baseline"]
        runs, e2e = intake["runs"], intake["end_to_end"]
        yield (
            "intake, POST /orders",
            f"**{ours['rps']:,} req/s** ({_runs(runs['ours'], 'rps')}), p50 {ours['p50_ms']:,.0f} ms,"
            f" p99 {ours['p99_ms']:,.0f} ms, answers {_statuses(runs['ours'])}",
            "",
        )
        yield (
            "baseline view, every process running (its sagas run too)",
            f"**{with_sagas['rps']:,} req/s** ({_runs(runs['baseline'], 'rps')}), p99 {with_sagas['p99_ms']:,.0f} ms;"
            f" its sagas drained {_spread(runs['baseline'], 'drain_after_load_s')} s after its load",
            "",
        )
        ratios = [o["rps"] / b["rps"] for o, b in zip(runs["ours"], runs["baseline"], strict=True)]
        yield (
            "intake / baseline with sagas",
            f"**{intake['ratio']:.2f}** (run by run {' / '.join(f'{r:.2f}' for r in ratios)})",
            _target(intake["ratio"] >= 0.75, "≥ 0.75"),
        )
        yield (
            "bare baseline (no relay, beat or consumer running)",
            f"**{bare['rps']:,} req/s** ({_runs(runs['bare_baseline'], 'rps')}), p50 {bare['p50_ms']:,.0f} ms,"
            f" p99 {bare['p99_ms']:,.0f} ms",
            "",
        )
        yield (
            "end to end, during intake",
            f"**{e2e['sagas_per_s']:,} sagas/s** ({_runs(e2e['runs'], 'sagas_per_s')}),"
            f" {sum(r['completed'] for r in e2e['runs']):,} of {sum(r['sagas'] for r in e2e['runs']):,} completed,"
            f" drained {_spread(e2e['runs'], 'drain_after_load_s')} s after the load; saga p50"
            f" {e2e['latency_p50_ms']:,.0f} ms, p99 {e2e['latency_p99_ms']:,.0f} ms",
            _target(e2e["sagas_per_s"] >= 200, "≥ 200, drained"),
        )
        yield ("end to end ÷ bare baseline", f"**{intake['end_to_end_over_bare']:.2f}** sagas a bare request", "")
        yield ("CPU a saga during intake", _cpu(e2e["cpu_ms_per_saga"]), "")
        yield ("CPU a bare-baseline request (its gunicorn, MariaDB)", _cpu(bare["cpu_ms_per_request"]), "")
        yield (
            "CPU a saga ÷ CPU a bare-baseline request",
            f"**{intake['cpu_per_saga_over_bare_request']:.1f}{TIMES}**",
            "",
        )
    for result in report.get("open_loop", []):
        accepted = result["orders_accepted_per_s"]
        target = ""
        if result["rate"] == 100:
            target = _target(result["latency_p99_ms"] < 250, "p99 < 250 ms")
        yield (
            f"open loop {result['rate']} orders/s",
            f"the web accepted {accepted:,}/s, {result['sagas_per_s']:,} sagas/s; p50 {result['latency_p50_ms']:,.0f}"
            f" ms, p95 {result['latency_p95_ms']:,.0f} ms, p99 {result['latency_p99_ms']:,.0f} ms, drained"
            f" {result['drain_after_load_s']} s after; {'sustainable' if result['sustainable'] else 'not sustainable'}",
            target,
        )
    if "open_loop" in report:
        rate = report["sustainable_rate"]
        yield (
            "sustainable rate (p99 < 1 s, drained < 5 s, ≥ 95% of the rate accepted)",
            f"**{rate} orders/s**" if rate else "**none of the rates**",
            "reported",
        )
        half = report["half_sustainable"]
        yield (
            "saga latency at half the sustainable rate",
            f"{half['rate']} orders/s: p50 {half['latency_p50_ms']:,.0f} ms, **p99 {half['latency_p99_ms']:,.0f} ms**"
            if half
            else "no sustainable rate",
            "reported",
        )
    relay = report.get("relay")
    if relay:
        runs = relay["runs"]
        yield (
            f"relay, {relay['rows']:,} rows, as it runs",
            f"**{relay['batched']:,.0f} msg/s** ({_runs_of(runs['batched'])})",
            _target(relay["batched"] >= 10_000, "≥ 10,000"),
        )
        yield ("relay, one drainer thread", f"{relay['batched_one_drainer']:,.0f} msg/s", "")
        yield (
            "relay, one confirm at a time",
            f"**{relay['one_at_a_time']:,.0f} msg/s** ({_runs_of(runs['one_at_a_time'])})",
            "",
        )
        yield (
            "relay, batched / one at a time",
            f"**{relay['ratio']}{TIMES}**",
            _target(relay["ratio"] >= 5, f"≥ 5{TIMES}"),
        )
    hot = report.get("hot_sku")
    if hot:
        runs = hot["runs"]
        confirmed = {run["confirmed"] for run in runs}
        yield (
            "hot SKU, 1,000 orders on stock 500",
            f"settled in **{hot['settle_s']} s** ({_runs(runs, 'settle_s')}); CONFIRMED {_runs(runs, 'confirmed')},"
            f" FAILED {_runs(runs, 'failed')}",
            _target(confirmed == {500}, "exactly 500"),
        )


def _runs(runs: list[dict], key: str) -> str:
    return "runs " + " / ".join(f"{run[key]:,}" for run in runs)


def _runs_of(values: list) -> str:
    return "runs " + " / ".join(f"{value:,}" for value in values)


def _spread(runs: list[dict], key: str) -> str:
    values = [run[key] for run in runs]
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def _statuses(runs: list[dict]) -> str:
    counts = collections.Counter()
    for run in runs:
        counts.update(run["statuses"])
    return ", ".join(f"HTTP {status}: {count:,}" for status, count in sorted(counts.items()))


def _cpu(per_process: dict[str, float]) -> str:
    parts = sorted(((key, value) for key, value in per_process.items() if key != "total"), key=lambda kv: -kv[1])
    named = ", ".join(f"{key.removesuffix('-consumer')} {value}" for key, value in parts)
    return f"{per_process['total']} ms ({named})"


def _version(text: str) -> str:
    """The first x.y.z in a tool's version line ("mariadb  Ver 15.1 Distrib 10.11.19-MariaDB, ..." -> 10.11.19)."""
    versions = re.findall(r"\d+\.\d+\.\d+", text)
    return versions[0] if versions else text


def _target(met: bool, target: str) -> str:
    return f"{target} — **{'met' if met else 'not met'}**"


def replace_latest_run(path: Path, section: str) -> None:
    """Put ``section`` in place of the file's Latest run section (up to the next heading of its level)."""
    text = path.read_text()
    pattern = re.compile(r"^## Latest run\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if not pattern.search(text):
        raise BenchFailed(f"{path} has no '## Latest run' section to replace")
    path.write_text(pattern.sub(lambda _match: section + "\n", text, count=1))


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/orders")
        connection.getresponse().read()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
