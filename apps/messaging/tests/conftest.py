"""Fixtures of the messaging tests that run a real consumer."""

import contextlib

import pytest
from kombu import Connection

from apps.messaging.tests.workers import running_consumer, wait_for


@pytest.fixture
def run_consumer(rabbitmq_vhost, settings):
    settings.RETRY_MAX_ATTEMPTS = 2
    settings.RETRY_DELAY_MS = 100
    with contextlib.ExitStack() as workers:

        def start(handler):
            worker = workers.enter_context(running_consumer(rabbitmq_vhost, handler))
            wait_for(lambda: queue_exists(rabbitmq_vhost), "the consumer declared its queues")
            return worker

        yield start


def queue_exists(url):
    try:
        with Connection(url) as connection:
            connection.default_channel.queue_declare("inventory.commands.dlq", passive=True)
        return True
    except Exception:
        return False
