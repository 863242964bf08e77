"""The alert rules and the Grafana dashboard, checked as files: every series they name is one the code exports.

A dashboard panel that names a metric nobody exports draws an empty graph, and
an alert on one never fires; neither shows up until the night it was needed.
The names are read from the code's metric definitions, so no stack runs here
(tests/e2e/test_observability.py parses each query with promtool and checks
them against a running stack).
"""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OBSERVABILITY = ROOT / "deploy" / "observability"
GRAFANA = OBSERVABILITY / "grafana"
DEFINITION = re.compile(
    r"\b(Counter|Histogram|Gauge|Summary|GaugeMetricFamily|CounterMetricFamily)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\""
)
# The series Prometheus makes itself (a scrape target that answers or not).
NOT_OURS = {"up"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
PROMQL_WORDS |= {"offset", "inf", "nan"}


def exported_series() -> set[str]:
    """Every series name the code's metric definitions produce, as prometheus_client names them."""
    series = set()
    for path in (ROOT / "apps").rglob("*.py"):
        if "tests" in path.parts:
            continue
        for kind, name in DEFINITION.findall(path.read_text()):
            if kind in ("Counter", "CounterMetricFamily"):
                base = name.removesuffix("_total")
                series |= {f"{base}_total", f"{base}_created"}
            elif kind in ("Histogram", "Summary"):
                series |= {f"{name}_bucket", f"{name}_count", f"{name}_sum", f"{name}_created"}
            else:
                series.add(name)
    return series


def series_in(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, labels, keywords or durations)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text)
    return {name for name in names if name.lower() not in PROMQL_WORDS}


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def dashboard_queries() -> list[tuple[str, str]]:
    return [
        (f"{name}: {panel['title']}", target["expr"])
        for name, dashboard in dashboards().items()
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict]:
    return [
        rule
        for group in yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]


def test_the_names_are_read_from_the_code():
    series = exported_series()

    assert {"saga_total", "saga_duration_seconds_bucket", "http_requests_total", "dlq_depth", "sagas_active"} <= series
    assert series_in('sum by (le) (rate(http_request_duration_seconds_bucket{route!="/health"}[5m])) > 0.5') == {
        "http_request_duration_seconds_bucket"
    }


def test_every_dashboard_query_names_only_series_the_code_exports():
    series = exported_series() | NOT_OURS

    for where, expr in dashboard_queries():
        named = series_in(expr)
        assert named, f"{where}: no metric in {expr!r}"
        assert named <= series, f"{where}: {expr!r} names {sorted(named - series)}, which the code does not export"


def test_every_alert_names_only_series_the_code_exports():
    series = exported_series() | NOT_OURS

    for rule in alert_rules():
        named = series_in(rule["expr"])
        assert named, f"{rule['alert']}: no metric in {rule['expr']!r}"
        assert named <= series, f"{rule['alert']}: names {sorted(named - series)}, which the code does not export"


def test_the_dashboards_load_in_the_provisioned_grafana():
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    datasources = {source["uid"] for source in provisioned["datasources"]}
    found = dashboards()
    assert found, "no dashboard in deploy/observability/grafana/dashboards"

    uids = [dashboard["uid"] for dashboard in found.values()]
    assert len(set(uids)) == len(uids), "each dashboard has its own uid"
    for name, dashboard in found.items():
        assert dashboard["title"], name
        assert dashboard["panels"], name
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        for panel in dashboard["panels"]:
            assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), f"{name}: {panel['title']} has no place"
            assert panel["targets"], f"{name}: {panel['title']} queries nothing"
            for target in panel["targets"]:
                assert target.get("datasource", panel["datasource"])["uid"] in datasources, panel["title"]
