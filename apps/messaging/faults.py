"""Crash points: die on purpose at a named place, so tests can hit each failure window.

Off unless CRASH_POINTS names a point. The process is killed with SIGKILL, the
same as the OOM killer or a pulled plug: no cleanup, no finally blocks.
"""

import os
import signal

from django.conf import settings

RELAY_AFTER_CLAIM = "relay.after_claim"
RELAY_AFTER_PUBLISH = "relay.after_publish"
# Part of a batch is on the wire, none of it confirmed yet.
RELAY_MID_PUBLISH = "relay.mid_publish"
CONSUMER_AFTER_COMMIT = "consumer.after_commit"
# A consumer published its replies after its commit and has not marked them dispatched yet.
CONSUMER_AFTER_DISPATCH = "consumer.after_dispatch"


def crash_point(name: str) -> None:
    if name in settings.CRASH_POINTS:
        os.kill(os.getpid(), signal.SIGKILL)


def crash_after(name: str, count: int) -> int | None:
    """How many items to handle before crashing at ``name`` (at least one), or None when it is off.

    Checked once per batch, so a loop pays one integer comparison per item when off.
    """
    if name not in settings.CRASH_POINTS:
        return None
    return max(1, count // 2)
