"""Crash points: off by default, and each fires only where it is named."""

import signal

from apps.messaging import faults


def test_a_crash_point_is_off_unless_named(settings, monkeypatch):
    kills = []
    monkeypatch.setattr(faults.os, "kill", lambda pid, sig: kills.append(sig))
    settings.CRASH_POINTS = frozenset()

    faults.crash_point(faults.RELAY_AFTER_PUBLISH)

    assert kills == []
    assert faults.crash_after(faults.RELAY_MID_PUBLISH, 500) is None


def test_a_named_crash_point_kills_the_process(settings, monkeypatch):
    kills = []
    monkeypatch.setattr(faults.os, "kill", lambda pid, sig: kills.append(sig))
    settings.CRASH_POINTS = frozenset({faults.RELAY_AFTER_CLAIM})

    faults.crash_point(faults.RELAY_AFTER_PUBLISH)
    faults.crash_point(faults.RELAY_AFTER_CLAIM)

    assert kills == [signal.SIGKILL]


def test_mid_publish_crashes_halfway_through_a_batch_and_after_a_lone_message(settings):
    settings.CRASH_POINTS = frozenset({faults.RELAY_MID_PUBLISH})

    assert faults.crash_after(faults.RELAY_MID_PUBLISH, 500) == 250
    assert faults.crash_after(faults.RELAY_MID_PUBLISH, 1) == 1
