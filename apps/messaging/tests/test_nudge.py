"""Nudging the relay: the embedded relay thread is woken; elsewhere the relay task lands on the relay queue."""

import threading

import pytest
from celery import current_app

from apps.messaging import nudge
from apps.messaging.nudge import RELAY_OUTBOX_TASK, relay_kick, relay_register_wakeup
from apps.messaging.tasks import relay_outbox


@pytest.fixture
def relay_queue():
    """The Celery broker's ``relay`` queue, emptied before and after the test."""
    with current_app.connection_for_write() as connection:
        queue = connection.SimpleQueue("relay")
        queue.clear()
        try:
            yield queue
        finally:
            queue.clear()
            queue.close()


def nudged_databases(queue, *, expected: int) -> list[str]:
    """The database of each relay task on the queue, once ``expected`` have arrived (and a moment for any more)."""
    databases = []
    for timeout in [5.0] * expected + [0.3]:
        try:
            message = queue.get(timeout=timeout)
        except queue.Empty:
            break
        message.ack()
        assert message.headers["task"] == RELAY_OUTBOX_TASK
        assert message.headers["expires"], "a nudge nobody took in time is dropped, not run late"
        [database], _, _ = message.payload
        databases.append(database)
    return databases


def test_the_nudge_names_the_relay_task():
    assert current_app.tasks[RELAY_OUTBOX_TASK] is relay_outbox._get_current_object()


def test_a_commit_on_a_database_the_relay_does_not_follow_sends_the_relay_task(settings, relay_queue):
    settings.EMBEDDED_MODE = False
    settings.RELAY_FOLLOW = ["orders"]
    settings.RELAY_FOLLOW_INTERVAL_MS = 20.0

    relay_kick("orders")
    relay_kick("inventory")

    assert nudged_databases(relay_queue, expected=1) == ["inventory"]


def test_commits_within_the_kick_interval_share_one_nudge(relay_queue):
    kicker = nudge.RelayKicker(interval=0.5)
    for _ in range(3):
        kicker.request("payments")

    assert nudged_databases(relay_queue, expected=1) == ["payments"]


def test_the_embedded_relay_thread_is_woken_instead(settings, monkeypatch, relay_queue):
    monkeypatch.setattr(nudge, "_wakeups", {})
    settings.EMBEDDED_MODE = False
    settings.RELAY_FOLLOW = []
    wakeup = threading.Event()
    relay_register_wakeup("inventory", wakeup)

    relay_kick("inventory")

    assert wakeup.is_set()
    assert nudged_databases(relay_queue, expected=0) == []
