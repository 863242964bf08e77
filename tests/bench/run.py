"""make bench: the Procfile topology on MariaDB + RabbitMQ, measured side by side with a baseline.

One run measures: intake (POST /orders, wrk, 50 connections) against a raw-SQL
baseline view; end-to-end saga throughput and latency at open-loop rates; the
relay draining 20,000 rows with batched confirms against one confirm at a time;
and a hot SKU. Every figure is the median of ``--repeats`` runs. The report goes
to docs/benchmarks.md and docs/bench-results.json.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from apps.common.progress import OnProgress, no_progress, progress  # noqa: E402
from tests.stack import Stack, free_port  # noqa: E402

PRODUCTS = range(5001, 5011)
CONSUMERS = ("orders-consumer", "inventory-consumer", "payments-consumer")
WRK_SCRIPT = Path(__file__).with_name("post_orders.lua")


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
def wrk(port: int, *, seconds: int, connections: int = 50, token: str = "") -> dict:
    """wrk's figures for POST /orders, each request carrying ``token`` (the baseline needs none)."""
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
        env={**os.environ, "BENCH_TOKEN": token},
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("WRK_JSON "))
    return json.loads(line.removeprefix("WRK_JSON "))


def open_loop(port: int, *, rate: int, seconds: int, product_id: int, token: str) -> int:
    """Send ``rate`` orders per second for ``seconds``, on schedule whatever the responses do."""
    total = rate * seconds
    started = time.monotonic() + 0.2
    next_index = iter(range(total))
    lock = threading.Lock()
    errors = []

    def sender():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps({"user_id": 1, "product_id": product_id, "quantity": 1, "total_amount": "1.00"})
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                connection.request(
                    "POST", "/orders", body, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
                )
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
    return len(errors)


def sustainable(figures: dict, *, rate: int, drain: float) -> bool:
    """Whether the system kept up with ``rate``: saga p99 under a second, the backlog drained within 5 s, and
    the web taking orders at the rate offered (a web that falls behind holds the senders back, and the
    database's timestamps, which start when an order is accepted, would not show that wait)."""
    return figures["latency_p99_ms"] < 1000 and drain < 5 and figures["orders_accepted_per_s"] >= 0.95 * rate


# --- where the CPU goes ---------------------------------------------------------------
SERVERS = {"mariadbd": "mariadb", "beam.smp": "rabbitmq"}


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each stack process (children included), MariaDB and RabbitMQ.

    Every Procfile process runs in its own session, so a gunicorn worker or a
    Celery child counts toward the process that started it.
    """
    sessions = {process.pid: key for key, process in stack.processes.items()}
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


def cpu_per_saga(before: dict[str, float], after: dict[str, float], sagas: int) -> dict[str, float]:
    """Milliseconds of CPU per saga for each process between two cpu_seconds() snapshots."""
    used = {key: after[key] - before.get(key, 0.0) for key in after}
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
    def __init__(self, stack: Stack, *, repeats: int, seconds: int, on_progress: OnProgress = no_progress):
        self.stack = stack
        self.repeats = repeats
        self.seconds = seconds
        self.on_progress = on_progress
        self.measured = 0
        self.measurements: int | None = None

    def plan(self, only: set[str], *, rates: int) -> None:
        """How many measurements the run will take, for the progress bar."""
        per_part = {"intake": 2 * self.repeats, "open_loop": rates, "relay": 3 * self.repeats, "hot_sku": self.repeats}
        self.measurements = sum(count for part, count in per_part.items() if part in only)
        self.on_progress(0, self.measurements)

    def measured_one(self) -> None:
        self.measured += 1
        self.on_progress(self.measured, self.measurements)

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

    def intake(self, baseline_port: int) -> dict:
        ours, baseline, end_to_end = [], [], []
        for run in range(self.repeats):
            wait_quiet()
            before = self.max_order_id()
            log(f"intake run {run + 1}: POST /orders, wrk 50 connections, {self.seconds}s")
            cpu_before, batches_before = cpu_seconds(self.stack), self.batches()
            ours.append(wrk(self.stack.port, seconds=self.seconds, token=self.stack.token))
            drain = self.wait_drained(before)
            figures = self.saga_figures(before, self.max_order_id())
            figures["cpu_ms_per_saga"] = cpu_per_saga(cpu_before, cpu_seconds(self.stack), figures["sagas"])
            figures["drain_after_load_s"] = round(drain, 1)
            ours[-1]["mean_batch"] = self.mean_batch(batches_before)
            end_to_end.append(figures)
            log(f"  ours {ours[-1]['rps']} req/s, batches {ours[-1]['mean_batch']}, sagas {figures}")
            self.measured_one()
            wait_quiet()
            before, batches_before = self.max_order_id(), self.batches()
            log(f"intake run {run + 1}: baseline view")
            baseline.append(wrk(baseline_port, seconds=self.seconds, token=self.stack.token))
            # The baseline leaves its rows to the relay's sweep: its sagas may still be running here.
            baseline[-1]["drain_after_load_s"] = round(self.wait_drained(before), 1)
            baseline[-1]["mean_batch"] = self.mean_batch(batches_before)
            log(f"  baseline {baseline[-1]['rps']} req/s, {baseline[-1]}")
            self.measured_one()
        summary = {
            "ours": median_figures(ours),
            "baseline": median_figures(baseline),
            "runs": {"ours": ours, "baseline": baseline},
        }
        summary["ratio"] = round(summary["ours"]["rps"] / summary["baseline"]["rps"], 3)
        summary["end_to_end"] = median_figures(end_to_end) | {"runs": end_to_end}
        return summary

    def open_loop(self, rates: list[int]) -> list[dict]:
        results = []
        for rate in rates:
            wait_quiet()
            before = self.max_order_id()
            log(f"open loop: {rate} orders/s for {self.seconds}s")
            cpu_before = cpu_seconds(self.stack)
            errors = open_loop(
                self.stack.port, rate=rate, seconds=self.seconds, product_id=PRODUCTS[0], token=self.stack.token
            )
            drain = self.wait_drained(before, timeout=600)
            figures = self.saga_figures(before, self.max_order_id())
            figures["cpu_ms_per_saga"] = cpu_per_saga(cpu_before, cpu_seconds(self.stack), figures["sagas"])
            figures.update(rate=rate, http_errors=errors, drain_after_load_s=round(drain, 2))
            figures["sustainable"] = sustainable(figures, rate=rate, drain=drain)
            log(f"  {figures}")
            results.append(figures)
            self.measured_one()
        return results

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
                    wait_quiet()
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
            wait_quiet()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rates", default="10,25,50,100,200,400")
    parser.add_argument("--relay-rows", type=int, default=20_000)
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "4")))
    parser.add_argument("--only", default="intake,open_loop,relay,hot_sku")
    parser.add_argument("--output", default=str(ROOT / "docs" / "bench-results.json"))
    args = parser.parse_args()
    only = set(args.only.split(","))

    workdir = Path(os.environ.get("BENCH_DIR", ROOT / "var" / "bench"))
    env = {"WEB_CONCURRENCY": str(args.web_workers), "LOG_LEVEL": "WARNING", "SAGA_RECOVERY_AGE": "60"}
    os.environ.setdefault("TEST_RUN_ID", f"bench{int(time.time())}")
    stack = Stack(workdir / os.environ["TEST_RUN_ID"], env=env).create()
    for alias, database in stack.databases.items():
        os.environ[{"default": "DATABASE_URL"}.get(alias, f"{alias.upper()}_DATABASE_URL")] = (
            f"mysql://root@127.0.0.1:3306/{database}"
        )
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    os.environ["LOG_LEVEL"] = "WARNING"
    baseline = None
    report = {"started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "machine": machine()}
    report["settings"] = {"web_workers": args.web_workers, "repeats": args.repeats, "seconds": args.seconds}
    rates = [int(rate) for rate in args.rates.split(",")]
    # A measurement takes a minute or so: off a terminal, say each one.
    with progress(sys.stderr, description="bench measurements", every=1) as on_progress:
        try:
            stack.start_all()
            for product_id in PRODUCTS:
                stack.seed(product_id, 10**12)
            bench = Bench(stack, repeats=args.repeats, seconds=args.seconds, on_progress=on_progress)
            bench.plan(only, rates=len(rates))
            if "intake" in only:
                baseline_port = free_port()
                baseline = subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "gunicorn"),
                        "tests.bench.baseline:application",
                        "--bind",
                        f"127.0.0.1:{baseline_port}",
                        "--workers",
                        str(args.web_workers),
                        "--log-level",
                        "warning",
                    ],
                    cwd=ROOT,
                    env={**stack.base_env, "ORDERS_DATABASE_URL": os.environ["ORDERS_DATABASE_URL"]},
                )
                stack.wait_until(lambda: _answers(baseline_port), timeout=30, what="baseline up")
                report["intake"] = bench.intake(baseline_port)
            if "open_loop" in only:
                report["open_loop"] = bench.open_loop(rates)
                sustainable = [r["rate"] for r in report["open_loop"] if r["sustainable"]]
                report["sustainable_rate"] = max(sustainable) if sustainable else None
            if "relay" in only:
                report["relay"] = bench.relay(args.relay_rows)
            if "hot_sku" in only:
                report["hot_sku"] = bench.hot_sku()
        finally:
            if baseline is not None:
                baseline.terminate()
                baseline.wait(timeout=20)
            stack.close()
    Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"wrote {args.output}")
    print(json.dumps({key: value for key, value in report.items() if key != "machine"}, indent=2, default=str))


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
