"""Flower and the relay's remote control work as their own provisioned users, which the shared stack never starts."""

import json
import socket
import subprocess
import sys
import urllib.request

import pytest

from tests.stack import ROOT, Stack, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]


@pytest.fixture(params=["classic", "quorum"])
def stack(request, tmp_path):
    """A stack of its own; on quorum queues the relay worker also sets up Celery's delayed delivery."""
    running = Stack(tmp_path / "stack", env={"RABBITMQ_QUEUE_TYPE": request.param}).create()
    try:
        yield running
    finally:
        running.close()


def test_flower_sees_the_relay_and_the_relay_answers_a_ping_each_as_its_own_user(stack):
    port = free_port()
    stack.start("relay")
    stack.start("flower", env={"FLOWER_PORT": str(port), "FLOWER_UNAUTHENTICATED_API": "true"})
    worker = f"relay@{socket.gethostname()}"

    def flower_workers() -> set[str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/workers?refresh=1", timeout=10) as response:
                return set(json.loads(response.read()))
        except OSError:
            return set()

    stack.wait_until(lambda: worker in flower_workers(), timeout=60, what="flower lists the relay worker")
    # The compose health check of the relay: `celery inspect ping` with the relay's own environment.
    ping = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout", "10", "--destination", worker],
        cwd=ROOT,
        env=stack.process_env("relay"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert ping.returncode == 0, ping.stdout + ping.stderr
    for key in ("relay", "flower"):
        assert "ACCESS_REFUSED" not in stack.log(key), key
