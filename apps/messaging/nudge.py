"""Nudging the relay after a commit: wake the embedded relay thread, or send it a Celery task.

The task is sent by its name, so this module needs nothing of ``tasks.py``,
which imports the relay; CELERY_TASK_ROUTES puts it on the ``relay`` queue.
"""

import threading
import time

import structlog
from celery import current_app
from django.conf import settings

from apps.common.process import PerProcess
from apps.messaging.follower import relay_follows

# The relay's logger, as before the nudges had a module of their own: its lines stay where operators grep for them.
log = structlog.get_logger("messaging.relay")

# The name ``apps.messaging.tasks.relay_outbox`` is registered under.
RELAY_OUTBOX_TASK = "messaging.relay_outbox"

_wakeups: dict[str, threading.Event] = {}


def relay_register_wakeup(using: str, event: threading.Event) -> None:
    """The embedded mode's relay thread asks to be woken instead of a Celery task."""
    _wakeups[using] = event


def relay_kick(using: str) -> None:
    """Ask a relay to drain ``using`` soon. Cheap, never blocks, never raises: the sweep is the backstop."""
    wakeup = _wakeups.get(using)
    if wakeup is not None:
        wakeup.set()
        return
    if settings.EMBEDDED_MODE or relay_follows(using):
        return
    _kicker().request(using)


class RelayKicker:
    """Sends the Celery nudges from a thread of this process, never from the committing request.

    The first commit after a quiet spell is nudged at once; commits within the next
    RELAY_KICK_INTERVAL_MS share one nudge. A nudge makes a relay drain everything,
    so coalescing loses nothing, and every commit is followed by a nudge sent
    after it, so no commit waits for the sweep.
    """

    def __init__(self, interval: float):
        self.interval = interval
        self.pending: set[str] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        threading.Thread(target=self._run, name="relay-kicker", daemon=True).start()

    def request(self, using: str) -> None:
        with self.lock:
            self.pending.add(using)
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            with self.lock:
                aliases, self.pending = self.pending, set()
            for alias in sorted(aliases):
                try:
                    # What the task's own apply_async sent: its result is ignored as the app's settings say.
                    current_app.send_task(
                        RELAY_OUTBOX_TASK,
                        args=[alias],
                        retry=False,
                        expires=30,
                        ignore_result=current_app.conf.task_ignore_result,
                    )
                except Exception:  # a lost nudge only delays the row until the next sweep
                    log.warning("relay.kick_failed", database=alias, exc_info=True)
            time.sleep(self.interval)


# This process's kicker; a forked child (gunicorn, Celery prefork) starts its own.
_kicker = PerProcess(lambda: RelayKicker(settings.RELAY_KICK_INTERVAL_MS / 1000))
