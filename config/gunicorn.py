"""gunicorn settings for the web process: Prometheus multiprocess mode across its workers.

Every worker writes its metrics under PROMETHEUS_MULTIPROC_DIR; the master adds
them up and serves the sum on METRICS_PORT, apart from the public port (as relay,
consumers and beat serve theirs). The directory is emptied when gunicorn starts,
and a dead worker's gauges are dropped.
"""

import os
import shutil
from pathlib import Path

_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    str(Path(os.environ.get("VAR_DIR", "var")) / "metrics" / os.environ.get("SERVICE_NAME", "web")),
)


def on_starting(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)


def when_ready(server):
    """The master serves the workers' sum; it never loads Django, so it reads the two variables itself."""
    port = int(os.environ.get("METRICS_PORT") or 0)
    if not port:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=os.environ.get("METRICS_ADDRESS", "127.0.0.1"), registry=registry)
    server.log.info("metrics on port %s", port)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """The worker has loaded Django and the app: keep that heap out of every later garbage collection."""
    from apps.common.process import freeze_startup_heap

    freeze_startup_heap()
