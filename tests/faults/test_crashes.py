"""Processes SIGKILLed at each crash point while orders pour in, then restarted without it."""

import time

import pytest

from tests.faults.harness import Load, settle

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

RELAY_POINTS = ["relay.after_claim", "relay.mid_publish", "relay.after_publish"]
CONSUMERS = ["orders-consumer", "inventory-consumer", "payments-consumer"]
# After its commit, before it published its replies (left to the relay after the grace);
# after publishing them, before marking them dispatched (the relay sends them again).
CONSUMER_POINTS = ["consumer.after_commit", "consumer.after_dispatch"]
# Each crashing consumer is restarted this many times before it runs clean again.
CONSUMER_CRASHES = 3


def relay_child_kills(stack) -> int:
    """Celery's pool children that died by SIGKILL, as the relay's master process reports them."""
    return stack.log("relay").count("signal 9 (SIGKILL)")


@pytest.mark.parametrize("point", RELAY_POINTS)
def test_relay_killed_at_each_crash_point(fault_stack, products, point):
    stack = fault_stack
    kills_before = relay_child_kills(stack)
    load = Load(stack, products=products)
    load.wait_placed(0.2)

    stack.kill("relay")
    stack.start("relay", env={"CRASH_POINTS": point, "RELAY_CONCURRENCY": "1"})
    # Every batch its follower claims kills it again (the pool starts a new child) until it runs without the point.
    stack.wait_until(lambda: relay_child_kills(stack) >= kills_before + 2, timeout=30, what=f"relay died at {point}")
    load.wait_placed(0.6)
    stack.kill("relay")
    stack.start("relay")
    fault_over = time.monotonic()

    figures = settle(stack, load, fault=f"relay SIGKILLed at {point}", since=fault_over)

    assert relay_child_kills(stack) >= kills_before + 2, figures


@pytest.mark.parametrize("point", CONSUMER_POINTS)
@pytest.mark.parametrize("consumer", CONSUMERS)
def test_consumer_killed_after_its_commit_before_its_ack(fault_stack, products, consumer, point):
    stack = fault_stack
    load = Load(stack, products=products)
    load.wait_placed(0.2)

    for _ in range(CONSUMER_CRASHES):
        stack.kill(consumer)
        process = stack.start(consumer, env={"CRASH_POINTS": point})
        stack.wait_until(lambda process=process: process.poll() is not None, timeout=30, what=f"{consumer} crashed")
        assert process.returncode == -9
    stack.start(consumer)
    fault_over = time.monotonic()

    settle(stack, load, fault=f"{consumer} SIGKILLed at {point}, before ack (x{CONSUMER_CRASHES})", since=fault_over)
