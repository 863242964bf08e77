"""The Celery app: relay tasks, the beat schedule, Flower; and the metrics those processes serve."""

import os

from celery import Celery
from celery.signals import beat_init, task_prerun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("sagas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def check_database_connections(**kwargs):
    """Treat a task like a web request: drop broken or aged connections, health-check before first use.

    Celery's Django fixup would otherwise open a new connection for every task
    (CELERY_DB_REUSE_MAX in settings lets it keep them).
    """
    from django.db import close_old_connections

    close_old_connections()


@worker_init.connect
def serve_relay_metrics(**kwargs):
    """The relay's prefork children write metrics to PROMETHEUS_MULTIPROC_DIR; the parent serves the sum."""
    from django.conf import settings

    from apps.messaging.metrics import metrics_serve, multiprocess_dir_reset, multiprocess_registry

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess_dir_reset()
        metrics_serve(port=settings.METRICS_PORT, registry=multiprocess_registry())
    else:
        metrics_serve(port=settings.METRICS_PORT)


@worker_process_init.connect
def freeze_relay_child_heap(**kwargs):
    """A relay child starts with Django and the app loaded: keep that heap out of its garbage collections."""
    from apps.common.process import freeze_startup_heap

    freeze_startup_heap()


@worker_process_init.connect
def follow_outboxes(**kwargs):
    """Each relay child follows the RELAY_FOLLOW outboxes from a thread of its own (apps.messaging.follower)."""
    from apps.messaging.follower import relay_follow

    relay_follow()


@beat_init.connect
def serve_state_metrics(**kwargs):
    """Beat, the one singleton process, serves the system-state gauges (outbox lag, DLQs, active sagas)."""
    from django.conf import settings
    from prometheus_client import CollectorRegistry

    from apps.messaging.metrics import StateCollector, metrics_serve
    from apps.orders.metrics import saga_state_metrics

    registry = CollectorRegistry()
    registry.register(StateCollector(extra=[saga_state_metrics]))
    metrics_serve(port=settings.METRICS_PORT, registry=registry)
