"""A payments consumer that stops answering for longer than the saga will wait, under load."""

import os
import signal
import time

import pytest

from tests.faults.harness import Load, settle

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

PAYMENT_DEADLINE = 3
HANG = 8
# The orchestrator sets a step's deadline; beat schedules the check that enforces it.
SHORT_DEADLINE = {"SAGA_STEP_DEADLINE_PROCESSING_PAYMENT": str(PAYMENT_DEADLINE), "SAGA_DEADLINE_CHECK_INTERVAL": "1"}


def restart(stack, name: str, env: dict[str, str] | None = None) -> None:
    stack.stop(name)
    stack.start(name, env=env)


def test_a_hung_payments_consumer_is_compensated_and_charges_nothing_twice(fault_stack, products):
    # RabbitMQ's consumer_timeout is broker-wide (and 30 minutes by default), so the broker's
    # patience is not what runs out here: the process is frozen (SIGSTOP) with its prefetched
    # messages unacked for longer than the payment step's deadline, which is the saga's patience.
    stack = fault_stack
    given_back_before = given_back(stack)
    restart(stack, "orders-consumer", SHORT_DEADLINE)
    restart(stack, "beat", SHORT_DEADLINE)
    try:
        load = Load(stack, products=products)
        load.wait_placed(0.2)
        consumer = stack.processes["payments-consumer"]
        os.killpg(consumer.pid, signal.SIGSTOP)
        try:
            time.sleep(HANG)
        finally:
            os.killpg(consumer.pid, signal.SIGCONT)
        fault_over = time.monotonic()

        figures = settle(
            stack,
            load,
            fault=f"payments consumer frozen {HANG}s (payment deadline {PAYMENT_DEADLINE}s)",
            since=fault_over,
        )
    finally:
        restart(stack, "orders-consumer")
        restart(stack, "beat")

    assert figures["outcomes"].get("COMPENSATED", 0) > 0, figures
    # Charges taken late, after their saga gave up, were refunded (or refused, VOIDED, when the refund came first).
    assert given_back(stack) > given_back_before, figures


def given_back(stack) -> int:
    return stack.sql("payments", "SELECT COUNT(*) FROM payments WHERE status IN ('REFUNDED', 'VOIDED')")[0][0]
