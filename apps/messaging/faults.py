"""Crash points: die on purpose at a named place, so tests can hit each failure window.

Off unless CRASH_POINTS names a point. The process is killed with SIGKILL, the
same as the OOM killer or a pulled plug: no cleanup, no finally blocks.
"""

import os
import signal

from django.conf import settings

RELAY_AFTER_CLAIM = "relay.after_claim"
RELAY_AFTER_PUBLISH = "relay.after_publish"
CONSUMER_AFTER_COMMIT = "consumer.after_commit"


def crash_point(name: str) -> None:
    if name in settings.CRASH_POINTS:
        os.kill(os.getpid(), signal.SIGKILL)
