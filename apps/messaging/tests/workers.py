"""Helpers for tests that run a real ConsumerWorker on inventory.commands in a thread."""

import contextlib
import threading
import time

from apps.messaging.consumer import ConsumerSpec, ConsumerWorker
from apps.messaging.contracts import ReserveInventory
from apps.messaging.topology import WORK_QUEUES


def wait_for(predicate, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def running_consumer(url: str, handler):
    """An inventory.commands consumer on the orders database with ``handler`` for reserve commands."""
    spec = ConsumerSpec(
        name="test",
        queue=WORK_QUEUES["inventory.commands"],
        using="orders",
        handlers={ReserveInventory.routing_key: handler},
        transient_retries=0,
    )
    worker = ConsumerWorker(spec, url=url, prefetch=5)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        yield worker
    finally:
        worker.stopping.set()
        thread.join(10)
