"""Saga metrics: terminal counts and durations as they happen, active sagas at scrape time."""

from datetime import datetime

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from apps.orders.models import SagaState, SagaStatus
from apps.orders.sagas import ACTIVE_STATUSES, MACHINES

SAGA_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

SAGA_TERMINAL = Counter("saga_total", "Sagas that reached a terminal status", ["saga_type", "status"])
SAGA_DURATION = Histogram(
    "saga_duration_seconds",
    "Saga wall-clock time from creation to its terminal status",
    ["saga_type", "status"],
    buckets=SAGA_BUCKETS,
)
SAGA_STEP_DURATION = Histogram(
    "saga_step_duration_seconds",
    "Time a saga spent in a step before the reply that moved it on (since its last update)",
    ["step"],
    buckets=SAGA_BUCKETS,
)
SAGA_FAILED = Counter(
    "saga_failed_total",
    "Sagas that ended FAILED, by the step they failed in (RELEASING_INVENTORY: a person must look)",
    ["step"],
)
SAGA_RESENT = Counter("saga_recovery_resent_total", "Step commands re-sent by recovery", ["step"])
SAGA_DEADLINES_PASSED = Counter("saga_deadline_passed_total", "Steps that passed their deadline", ["step"])
SAGA_OPERATOR_ACTIONS = Counter("saga_operator_actions_total", "Operator actions that changed a saga", ["action"])
SAGA_CANCELLATIONS = Counter(
    "order_cancellations_total", "Cancellations customers asked for, by what the order was", ["was"]
)


def saga_observe_transition(*, saga: SagaState, from_step: str, step_started_at: datetime) -> None:
    """Record a transition once the orchestrator's transaction has committed it."""
    now = timezone.now()
    SAGA_STEP_DURATION.labels(from_step).observe((now - step_started_at).total_seconds())
    if saga.completed_at is not None:
        SAGA_TERMINAL.labels(saga.saga_type, saga.status).inc()
        SAGA_DURATION.labels(saga.saga_type, saga.status).observe((saga.completed_at - saga.created_at).total_seconds())
        if saga.status == SagaStatus.FAILED:
            SAGA_FAILED.labels(saga.current_step).inc()


def saga_state_metrics():
    """Active sagas by status and step, and the age of the oldest (the stuck-saga signal)."""
    active = GaugeMetricFamily(
        "sagas_active", "Sagas not yet terminal, by type, status and step", labels=["saga_type", "status", "step"]
    )
    oldest = GaugeMetricFamily(
        "saga_oldest_active_age_seconds",
        "Seconds since the least recently updated active saga moved (0 when none)",
        labels=["status"],
    )
    rows = (
        SagaState.objects.filter(status__in=[status.value for status in ACTIVE_STATUSES])
        .values("saga_type", "status", "current_step")
        .annotate(count=Count("id"), idle_since=Min("updated_at"))
    )
    now = timezone.now()
    counts = {
        (saga_type, status.value, step.value): 0
        for saga_type, machine in MACHINES.items()
        for status, step in machine.actions
    }
    idle = {status.value: 0.0 for status in ACTIVE_STATUSES}
    for row in rows:
        counts[(row["saga_type"], row["status"], row["current_step"])] = row["count"]
        idle[row["status"]] = max(idle[row["status"]], (now - row["idle_since"]).total_seconds())
    for (saga_type, status, step), count in sorted(counts.items()):
        active.add_metric([saga_type, status, step], count)
    for status, seconds in sorted(idle.items()):
        oldest.add_metric([status], seconds)
    yield active
    yield oldest
