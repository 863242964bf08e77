"""The embedded mode: relay, consumers and periodic jobs as threads of one process.

Used by ``make run`` on SQLite with kombu's in-process broker. Messages in the
in-process broker die with the process, so on start every active saga's step is
re-sent at once (the consumers answer repeats from their logs).
"""

import threading

import structlog
from django.conf import settings
from django.utils.module_loading import import_string
from prometheus_client import REGISTRY

from apps.messaging.consumer import ConsumerSpec, ConsumerWorker
from apps.messaging.metrics import StateCollector
from apps.messaging.nudge import relay_register_wakeup
from apps.messaging.publisher import publisher_for_thread
from apps.messaging.relay import relay_drain

log = structlog.get_logger("messaging.embedded")


class EmbeddedRuntime:
    def __init__(self, *, periodic_jobs: dict[str, tuple[float, str, dict]], state_metrics=()):
        """``periodic_jobs``: name -> (interval seconds, dotted path of a callable, its kwargs).

        ``state_metrics``: extra scrape-time collectors for the one /metrics of this process.
        """
        self.state_metrics = list(state_metrics)
        self.stopping = threading.Event()
        self.wakeup = threading.Event()
        self.periodic_jobs = periodic_jobs
        self.workers = [ConsumerWorker(ConsumerSpec.from_settings(name)) for name in settings.MESSAGING_CONSUMERS]
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for alias in settings.DOMAIN_DATABASES:
            relay_register_wakeup(alias, self.wakeup)
        for worker in self.workers:
            worker.stopping = self.stopping
            self._spawn(f"consumer-{worker.spec.name}", worker.run)
        self._spawn("relay", self._relay_loop)
        for name, (interval, path, kwargs) in self.periodic_jobs.items():
            self._spawn(name, self._periodic, interval, import_string(path), kwargs)
        REGISTRY.register(StateCollector(extra=self.state_metrics))
        log.info("embedded.started", threads=[thread.name for thread in self.threads])

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _relay_loop(self) -> None:
        publisher = publisher_for_thread()
        while not self.stopping.is_set():
            self.wakeup.clear()
            for alias in settings.DOMAIN_DATABASES:
                try:
                    relay_drain(using=alias, publisher=publisher)
                except Exception:
                    log.exception("embedded.relay_failed", database=alias)
            self.wakeup.wait(settings.RELAY_SWEEP_INTERVAL)

    def _periodic(self, interval: float, job, kwargs: dict) -> None:
        while not self.stopping.is_set():
            try:
                job(**kwargs)
            except Exception:
                log.exception("embedded.job_failed", job=getattr(job, "__name__", str(job)))
            self.stopping.wait(interval)
