"""One trace across every process, the metrics each process serves, Prometheus and Grafana files."""

import json
import re
import shutil
import subprocess
import urllib.request

import pytest
import yaml

from tests.stack import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

OBSERVABILITY = ROOT / "deploy" / "observability"
PROCESSES = ("web", "relay", "beat", "orders-consumer", "inventory-consumer", "payments-consumer")
CONSUMERS = ("orders-consumer", "inventory-consumer", "payments-consumer")


def place_traced(stack, *, product_id: int, headers: dict) -> tuple[dict, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}/orders",
        data=json.dumps({"user_id": 5, "product_id": product_id, "quantity": 1, "total_amount": "5.00"}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **stack.auth_headers(), **headers},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), dict(response.headers)


def records_with(stack, key: str, trace_id: str) -> list[dict]:
    return [
        record
        for record in stack.json_logs(key)
        if record.get("trace_id") == trace_id or trace_id in record.get("trace_ids", [])
    ]


def test_one_trace_id_runs_through_the_web_and_every_consumer(stack):
    stack.seed(4001, 10)

    placed, headers = place_traced(stack, product_id=4001, headers={"X-Request-ID": "order-4001"})
    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}

    # The request's trace started at the web; the caller's request id is echoed, and logged by the web.
    trace_id = headers["traceparent"].split("-")[1]
    assert headers["X-Request-ID"] == "order-4001"
    assert [r for r in records_with(stack, "web", trace_id) if r.get("request_id") == "order-4001"]
    for key in ("web", *CONSUMERS):
        stack.wait_until(lambda key=key: records_with(stack, key, trace_id), timeout=10, what=f"{key} logs the trace")

    # Each hop's publish names the trace: the relay's of the first command, then every consumer's replies.
    def publishers() -> set[str]:
        return {
            r["service"]
            for key in ("relay", *CONSUMERS)
            for r in stack.json_logs(key)
            if r.get("event") == "outbox.batch_published" and trace_id in r["trace_ids"]
        }

    stack.wait_until(lambda: publishers() == {"relay", *CONSUMERS}, timeout=10, what="every hop logs its publish")
    handled = [r for key in CONSUMERS for r in records_with(stack, key, trace_id) if r["event"] == "consumer.handled"]
    assert {r["routing_key"] for r in handled} >= {
        "inventory.reserve",
        "inventory.reserved",
        "payment.process",
        "payment.processed",
    }
    assert {r["saga_id"] for r in handled} == {placed["saga_id"]}
    assert {r["service"] for r in handled} == set(CONSUMERS)


def test_a_w3c_traceparent_sets_the_trace_and_travels_on(stack):
    stack.seed(4002, 10)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"

    placed, headers = place_traced(
        stack, product_id=4002, headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    )
    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}

    assert headers["X-Request-ID"] == trace_id
    # The stack records no spans (OTEL_TRACES_EXPORTER=none): its own span says it was not sampled.
    assert re.fullmatch(rf"00-{trace_id}-[0-9a-f]{{16}}-00", headers["traceparent"])
    [(saga_trace,)] = stack.sql("orders", "SELECT trace_id FROM saga_states WHERE order_id = %s", [placed["order_id"]])
    assert saga_trace == trace_id
    stack.wait_until(
        lambda: all(records_with(stack, key, trace_id) for key in CONSUMERS), timeout=10, what="consumers log it"
    )


def test_metrics_report_completed_and_compensated_sagas_from_every_process(stack):
    stack.seed(4003, 10)
    happy = stack.place_order(product_id=4003)
    stack.stop("payments-consumer")
    stack.start("payments-consumer", env={"PAYMENT_FAILURE_RATE": "1.0"})
    try:
        compensated = stack.place_order(product_id=4003)
        statuses = stack.wait_terminal([happy["order_id"], compensated["order_id"]])
    finally:
        stack.stop("payments-consumer")
        stack.start("payments-consumer")
    assert sorted(statuses.values()) == ["COMPENSATED", "CONFIRMED"]

    orchestrator = stack.metrics("orders-consumer")
    assert orchestrator[("saga_total", (("saga_type", "placement"), ("status", "COMPLETED")))] >= 1
    assert orchestrator[("saga_total", (("saga_type", "placement"), ("status", "COMPENSATED")))] >= 1
    assert orchestrator[("saga_duration_seconds_count", (("saga_type", "placement"), ("status", "COMPLETED")))] >= 1
    assert orchestrator[("saga_duration_seconds_count", (("saga_type", "placement"), ("status", "COMPENSATED")))] >= 1
    assert orchestrator[("saga_step_duration_seconds_count", (("step", "PROCESSING_PAYMENT"),))] >= 2
    web = stack.metrics("web")
    assert web[("http_requests_total", (("method", "POST"), ("route", "/orders"), ("status", "201")))] >= 2
    assert web[("django_db_execute_total", (("alias", "orders"), ("vendor", "mysql")))] >= 4
    assert not [name for name, _ in web if name.startswith("django_http_")], "HTTP is counted once, as http_*"
    # The relay publishes each saga's first command, the orchestrator the next ones after its commits.
    assert stack.metrics("relay")[("outbox_published_total", (("database", "orders"),))] >= 2
    assert orchestrator[("outbox_published_total", (("database", "orders"),))] >= 2
    inventory = stack.metrics("inventory-consumer")
    assert inventory[("consumer_messages_total", (("outcome", "ok"), ("queue", "inventory.commands")))] >= 3
    batched = (("queue", "inventory.commands"),)
    assert inventory[("consumer_batch_size_count", batched)] >= 1
    assert inventory[("consumer_batch_size_sum", batched)] >= 3, "every delivery handled was in a batch"
    state = stack.metrics("beat")
    assert state[("outbox_undispatched", (("database", "orders"),))] == 0
    assert ("outbox_oldest_undispatched_age_seconds", (("database", "payments"),)) in state
    assert state[("dlq_depth", (("queue", "inventory.commands.dlq"),))] == 0
    assert ("saga_oldest_active_age_seconds", (("status", "IN_PROGRESS"),)) in state


@pytest.fixture(scope="module")
def promtool():
    """Debian's prometheus package, installed by the set-up when it is missing (see the Makefile)."""
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        pytest.fail("prometheus/promtool missing: `make test` installs Debian's prometheus package")
    return shutil.which("promtool")


def test_promtool_accepts_the_scrape_config_and_the_alert_rules(promtool):
    config = subprocess.run([promtool, "check", "config", str(OBSERVABILITY / "prometheus.yml")], capture_output=True)
    rules = subprocess.run([promtool, "check", "rules", str(OBSERVABILITY / "alerts.yml")], capture_output=True)

    assert config.returncode == 0, config.stdout + config.stderr
    assert rules.returncode == 0, rules.stdout + rules.stderr
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    assert {"OutboxLagging", "SagaStuck", "DeadLetters", "CompensationFailed"} <= alerts


def test_promtool_parses_every_dashboard_query(promtool, tmp_path):
    # promtool parses PromQL offline only inside rule files: each panel's query becomes a recording rule.
    dashboard = json.loads((OBSERVABILITY / "grafana" / "dashboards" / "saga-overview.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = [{"record": f"dashboard:query_{number}", "expr": expr} for number, expr in enumerate(queries)]
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    checked = subprocess.run([promtool, "check", "rules", str(tmp_path / "dashboard.yml")], capture_output=True)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(queries)} rules found" in checked.stdout.decode()


def test_prometheus_scrapes_every_process_of_a_running_stack(stack, promtool, tmp_path):
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    targets = {key: stack.metrics_ports[key] for key in PROCESSES}
    compose_ports = {f"{key}:{port}" for key, port in (("web", 9100), ("relay", 9101), ("beat", 9105))}
    compose_ports |= {"orders-consumer:9102", "inventory-consumer:9103", "payments-consumer:9104"}
    seen = set()
    for job in config["scrape_configs"]:
        job["scrape_interval"] = "1s"
        for static in job["static_configs"]:
            rewritten = []
            for target in static["targets"]:
                seen.add(target)
                rewritten.append(f"127.0.0.1:{targets[target.split(':')[0]]}")
            static["targets"] = rewritten
    assert seen == compose_ports, "prometheus.yml scrapes every process type"
    config["rule_files"] = [str(OBSERVABILITY / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    server = subprocess.Popen(
        [
            shutil.which("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def health():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5) as response:
                    return [target["health"] for target in json.loads(response.read())["data"]["activeTargets"]]
            except OSError:
                return []

        stack.wait_until(lambda: health() == ["up"] * len(PROCESSES), timeout=60, what="every target up")
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_every_dashboard_query_names_an_exported_metric(stack):
    exported = set()
    for key in PROCESSES:
        exported |= {name for name, _ in stack.metrics(key)}
    dashboard = json.loads((OBSERVABILITY / "grafana" / "dashboards" / "saga-overview.json").read_text())

    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(dashboard["panels"]) >= 8
    for query in queries:
        names = set(
            re.findall(r"\b([a-z_]+_(?:total|seconds|bucket|count|sum|qty|depth|undispatched|active))\b", query)
        )
        names |= set(re.findall(r"\b(outbox_undispatched|dlq_depth|sagas_active)\b", query))
        assert names, f"no metric in {query!r}"
        assert names <= exported, f"{query!r} names {names - exported}, not exported"


def test_every_long_running_process_freezes_its_start_up_heap(stack):
    # gunicorn's worker hook, the consume command and the relay's prefork children (apps.common.process).
    def frozen(key: str) -> list[int]:
        return [r["objects"] for r in stack.json_logs(key) if r.get("event") == "process.heap_frozen"]

    for key in ("web", "relay", *CONSUMERS):
        stack.wait_until(lambda key=key: frozen(key), timeout=20, what=f"{key} logs its frozen heap")
        assert min(frozen(key)) > 10_000, key
