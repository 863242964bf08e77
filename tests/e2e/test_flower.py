"""Flower, as the Procfile runs it, shows the relay workers and the tasks they ran (docs/observability.md#flower).

Flower's HTTP API answers only with a login configured (Flower 2 refuses an
unauthenticated API), so the stack's Flower gets FLOWER_BASIC_AUTH as an
operator would set it. The relay sends no task events of its own: Flower turns
them on, over the broker, once it is connected.
"""

import base64
import json
import urllib.error
import urllib.request

import pytest

from tests.stack import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

CREDENTIALS = "e2e-flower:flower-password-1"


def flower_api(port: int, path: str):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    request.add_header("Authorization", f"Basic {base64.b64encode(CREDENTIALS.encode()).decode()}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {}


def test_flower_lists_the_relay_workers_and_their_tasks(make_stack):
    stack = make_stack()
    port = free_port()
    stack.start("relay")
    stack.start("beat")
    stack.start("flower", env={"FLOWER_PORT": str(port), "FLOWER_BASIC_AUTH": CREDENTIALS})

    def relay_workers() -> list[str]:
        return [name for name in flower_api(port, "/api/workers?refresh=1") if name.startswith("relay@")]

    stack.wait_until(lambda: relay_workers(), timeout=60, what="Flower lists the relay worker")

    def relay_tasks() -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for task in flower_api(port, "/api/tasks?limit=200").values():
            seen.setdefault(task["name"], set()).add(task["worker"])
        return seen

    # Beat sends a relay sweep every RELAY_SWEEP_INTERVAL (1 s on the test stack).
    stack.wait_until(lambda: "messaging.relay_sweep" in relay_tasks(), timeout=60, what="Flower lists relay tasks")
    assert relay_tasks()["messaging.relay_sweep"] <= set(relay_workers())
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/workers")
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(request, timeout=10)
    assert anonymous.value.code == 401, "without the login Flower shows nothing"
