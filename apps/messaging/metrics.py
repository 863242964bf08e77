"""Prometheus metrics of the messaging layer, and the state collectors read at scrape time.

Counters and histograms live in the process that does the work. The state of
the system (outbox lag, DLQ depth) is read from the databases and the broker
when Prometheus scrapes the process that runs ``StateCollector`` (beat, or the
embedded process), so it is one query per scrape, not a loop.
"""

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import structlog
from django.conf import settings
from django.db import connections
from django.db.models import Count, Min
from django.utils import timezone
from kombu import Connection
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily

from apps.messaging.models import OutboxMessage
from apps.messaging.topology import WORK_QUEUES

log = structlog.get_logger("messaging.metrics")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

PUBLISHED = Counter("outbox_published_total", "Outbox rows published and confirmed by the broker", ["database"])
PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total", "Outbox rows the broker refused (unroutable or nacked)", ["database"]
)
PUBLISH_ERRORS = Counter(
    "outbox_publish_errors_total",
    "Publish batches (relay, or a process after its commit) that failed as a whole (broker unreachable, no confirm)",
    ["database"],
)
BATCH_SIZE = Histogram(
    "relay_batch_size",
    "Outbox rows claimed per relay batch",
    ["database"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
PUBLISH_DURATION = Histogram(
    "outbox_publish_duration_seconds",
    "Time to publish one batch (relay, or a process after its commit) and receive all its confirms",
    ["database"],
    buckets=LATENCY_BUCKETS,
)
HANDLED = Counter(
    "consumer_messages_total",
    "Messages handled, by queue and outcome (ok, duplicate, retried, dead_lettered)",
    ["queue", "outcome"],
)
UNTRUSTED = Counter(
    "consumer_untrusted_messages_total",
    "Messages dead-lettered because their producing app's signature is missing or wrong, by queue and kind"
    " (unsigned, wrong_producer, unknown_key, bad_signature, no_key); accepted_unsigned counts the unsigned"
    " ones let through by MESSAGING_ACCEPT_UNSIGNED",
    ["queue", "kind"],
)
BATCHED = Histogram(
    "consumer_batch_size",
    "Deliveries a consumer handled together, in one transaction and one ack, by queue",
    ["queue"],
    buckets=(1, 2, 3, 5, 10, 20, 50, 100),
)
HANDLE_DURATION = Histogram(
    "consumer_handle_duration_seconds",
    "Time from delivery to ack, by queue",
    ["queue"],
    buckets=LATENCY_BUCKETS,
)


class StateCollector:
    """Gauges read at scrape time: outbox backlog and its oldest row, DLQ depths.

    ``extra`` collectors (e.g. the orders app's saga gauges) are called too, so the
    one process that serves this sees the whole system.
    """

    def __init__(self, *, extra: Iterable[Callable[[], Iterable[GaugeMetricFamily]]] = ()):
        self.extra = list(extra)

    def collect(self):
        yield from self._outbox()
        yield from self._dlq_depths()
        for collector in self.extra:
            yield from collector()

    def _outbox(self):
        backlog = GaugeMetricFamily(
            "outbox_undispatched", "Outbox rows not yet published, per database", labels=["database"]
        )
        oldest = GaugeMetricFamily(
            "outbox_oldest_undispatched_age_seconds",
            "Age of the oldest outbox row not yet published (0 when none), per database",
            labels=["database"],
        )
        now = timezone.now()
        for alias in settings.DOMAIN_DATABASES:
            try:
                row = (
                    OutboxMessage.objects.using(alias)
                    .filter(dispatched_at__isnull=True)
                    .aggregate(count=Count("id"), oldest=Min("created_at"))
                )
            except Exception:
                log.warning("metrics.outbox_unavailable", database=alias, exc_info=True)
                connections[alias].close()
                continue
            backlog.add_metric([alias], row["count"])
            oldest.add_metric([alias], (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0)
        yield backlog
        yield oldest

    def _dlq_depths(self):
        depth = GaugeMetricFamily("dlq_depth", "Messages waiting in each dead-letter queue", labels=["queue"])
        if settings.EMBEDDED_MODE:
            yield depth
            return
        try:
            with Connection(settings.MESSAGING_BROKER_URL, connect_timeout=2) as connection:
                channel = connection.default_channel
                for work_queue in WORK_QUEUES.values():
                    declared = channel.queue_declare(work_queue.dlq_name, passive=True)
                    depth.add_metric([work_queue.dlq_name], declared.message_count)
        except Exception:
            log.warning("metrics.dlq_unavailable", exc_info=True)
        yield depth


def metrics_serve(*, port: int, registry: CollectorRegistry = REGISTRY) -> None:
    """Serve ``registry`` on ``port`` in a background thread (0 turns it off)."""
    if port:
        start_http_server(port, addr=settings.METRICS_ADDRESS, registry=registry)
        log.info("metrics.serving", port=port)


def multiprocess_registry() -> CollectorRegistry:
    """A registry that adds up every process writing to PROMETHEUS_MULTIPROC_DIR (gunicorn, prefork)."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def multiprocess_dir_reset() -> None:
    """Start a process group's metrics from zero: remove what an earlier run left behind."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)
