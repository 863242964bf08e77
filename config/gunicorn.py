"""gunicorn settings for the web process: Prometheus multiprocess mode across its workers.

Every worker writes its metrics under PROMETHEUS_MULTIPROC_DIR; /metrics adds
them up. The directory is emptied when gunicorn starts, and a dead worker's
gauges are dropped.
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


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """The worker has loaded Django and the app: keep that heap out of every later garbage collection."""
    from apps.common.process import freeze_startup_heap

    freeze_startup_heap()
