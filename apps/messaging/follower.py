"""Following outboxes from a thread of each relay child: a probe every interval, a drain when it finds rows."""

import threading
import time

import structlog
from django.conf import settings
from django.db import close_old_connections, connections

from apps.common.process import CONNECTION_CHECK_INTERVAL, PerProcess
from apps.messaging.publisher import publisher_for_thread
from apps.messaging.relay import relay_drain, relay_has_claimable

# The relay's logger, as before the follower had a module of its own: its lines stay where operators grep for them.
log = structlog.get_logger("messaging.relay")


class RelayFollower:
    """Follows outboxes from a thread of a relay process: a probe every interval, a drain when it finds rows.

    Commits on a followed database send no nudge (relay_kick): the next probe,
    at most ``interval`` later, finds their rows. Under load a probe finds rows
    every time and each drain publishes what the interval gathered, in one batch
    with one round of confirms; when idle it costs one indexed read per
    interval. Each relay child runs one, and SKIP LOCKED keeps their claims
    apart. A follower that dies with its process leaves its claim uncommitted:
    the rows are claimable again, as for any relay.
    """

    def __init__(self, *, databases, interval: float):
        self.databases = tuple(databases)
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="relay-follower", daemon=True)

    def start(self) -> "RelayFollower":
        self.thread.start()
        log.info("relay.following", databases=list(self.databases), interval_ms=round(self.interval * 1000, 1))
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        publisher = publisher_for_thread()
        checked_at = 0.0
        try:
            while not self.stopping.wait(self.interval):
                if time.monotonic() - checked_at >= CONNECTION_CHECK_INTERVAL:
                    # As a consumer does: drop broken or aged connections once a second, not per probe.
                    checked_at = time.monotonic()
                    close_old_connections()
                for alias in self.databases:
                    self.follow_once(alias, publisher)
        finally:
            publisher.close()
            connections.close_all()

    def follow_once(self, using: str, publisher) -> int:
        """Probe ``using`` and drain it if the probe found a row; return how many were published. Never raises."""
        try:
            return relay_drain(using=using, publisher=publisher) if relay_has_claimable(using=using) else 0
        except Exception:  # the rows stay claimable: the next probe, or the sweep, takes them
            log.warning("relay.follow_failed", database=using, exc_info=True)
            connections[using].close_if_unusable_or_obsolete()
            self.stopping.wait(1.0)
            return 0


def relay_follows(using: str) -> bool:
    """Whether relay processes follow ``using`` themselves (RELAY_FOLLOW), so its commits need no nudge."""
    return settings.RELAY_FOLLOW_INTERVAL_MS > 0 and using in settings.RELAY_FOLLOW


# This process's follower, started by a relay child (config/celery.py).
_follower = PerProcess(
    lambda: RelayFollower(databases=settings.RELAY_FOLLOW, interval=settings.RELAY_FOLLOW_INTERVAL_MS / 1000).start()
)


def relay_follow() -> RelayFollower | None:
    """Start this process's follower, once; None when RELAY_FOLLOW names no database or the interval is 0."""
    if settings.EMBEDDED_MODE or settings.RELAY_FOLLOW_INTERVAL_MS <= 0 or not settings.RELAY_FOLLOW:
        return None
    return _follower()
