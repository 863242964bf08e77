"""Classic and quorum topologies: the declared arguments, then the real broker's queues and dead-lettering."""

import json
import subprocess
import time
import uuid

import amqp
import pytest
from kombu import Connection, Producer

from apps.messaging.contracts import RETRY_EXCHANGE
from apps.messaging.topology import WORK_QUEUES, declare_topology, topology_definitions

ALL_QUEUES = sorted(queue.name for work_queue in WORK_QUEUES.values() for queue in work_queue.kombu_queues())


def arguments_by_queue() -> dict[str, dict]:
    return {
        queue.name: dict(queue.queue_arguments or {})
        for work_queue in WORK_QUEUES.values()
        for queue in work_queue.kombu_queues()
    }


def test_classic_mode_declares_the_arguments_deployed_queues_already_have(settings):
    settings.RABBITMQ_QUEUE_TYPE = "classic"
    settings.RETRY_DELAY_MS = 1000

    arguments = arguments_by_queue()

    assert arguments["inventory.commands"] == {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "inventory.commands.dlq",
    }
    assert arguments["inventory.commands.retry"] == {
        "x-message-ttl": 1000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "inventory.commands",
    }
    assert arguments["inventory.commands.dlq"] == {}


def test_quorum_mode_makes_every_queue_quorum_with_a_delivery_limit_and_safe_dead_lettering(settings):
    settings.RABBITMQ_QUEUE_TYPE = "quorum"
    settings.RABBITMQ_DELIVERY_LIMIT = 7
    settings.RABBITMQ_DLQ_DELIVERY_LIMIT = 700

    arguments = arguments_by_queue()

    assert {name: args["x-queue-type"] for name, args in arguments.items()} == dict.fromkeys(ALL_QUEUES, "quorum")
    for work_queue in WORK_QUEUES.values():
        work = arguments[work_queue.name]
        assert work["x-delivery-limit"] == 7
        assert work["x-dead-letter-routing-key"] == work_queue.dlq_name
        retry = arguments[work_queue.retry_name]
        assert retry["x-dead-letter-routing-key"] == work_queue.name
        assert retry["x-delivery-limit"] == 7
        for dead_lettering in (work, retry):
            assert dead_lettering["x-dead-letter-strategy"] == "at-least-once"
            assert dead_lettering["x-overflow"] == "reject-publish"
        assert arguments[work_queue.dlq_name] == {"x-queue-type": "quorum", "x-delivery-limit": 700}


def test_an_unknown_queue_type_refuses_to_start():
    import os
    import sys

    from django.conf import settings

    env = {**os.environ, "RABBITMQ_QUEUE_TYPE": "mirrored", "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "RABBITMQ_QUEUE_TYPE must be classic or quorum" in result.stderr


def broker_queues(vhost: str) -> dict[str, dict]:
    output = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type", "arguments", "--formatter", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return {queue["name"]: queue for queue in json.loads(output)}


def vhost_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.mark.rabbitmq
@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_the_broker_holds_every_queue_as_the_declared_type(rabbitmq_vhost, settings, queue_type):
    settings.RABBITMQ_QUEUE_TYPE = queue_type
    with Connection(rabbitmq_vhost) as connection:
        declare_topology(connection.default_channel)
        declare_topology(connection.default_channel)  # idempotent: the same arguments again

    queues = broker_queues(vhost_of(rabbitmq_vhost))

    assert {name: queues[name]["type"] for name in ALL_QUEUES} == dict.fromkeys(ALL_QUEUES, queue_type)


@pytest.mark.rabbitmq
def test_a_quorum_work_queue_dead_letters_a_message_past_its_delivery_limit(rabbitmq_vhost, settings):
    settings.RABBITMQ_QUEUE_TYPE = "quorum"
    settings.RABBITMQ_DELIVERY_LIMIT = 2
    message_id = str(uuid.uuid4())
    with Connection(rabbitmq_vhost) as connection:
        channel = connection.default_channel
        declare_topology(channel)
        Producer(channel).publish(
            b"{}", exchange="saga.commands", routing_key="inventory.reserve", message_id=message_id, delivery_mode=2
        )
        requeued = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message = channel.basic_get("inventory.commands")
            if message is None:
                if channel.queue_declare("inventory.commands.dlq", passive=True).message_count == 1:
                    break
                time.sleep(0.05)
                continue
            channel.basic_reject(message.delivery_tag, requeue=True)
            requeued += 1
        dead = channel.basic_get("inventory.commands.dlq", no_ack=True)

    assert dead is not None, "the message never reached the DLQ"
    assert dead.properties["message_id"] == message_id
    assert requeued == 3, "delivered once, then redelivered up to the limit of 2"


@pytest.mark.rabbitmq
def test_a_quorum_retry_queue_hands_the_message_back_to_its_work_queue_after_the_delay(rabbitmq_vhost, settings):
    settings.RABBITMQ_QUEUE_TYPE = "quorum"
    settings.RETRY_DELAY_MS = 100
    with Connection(rabbitmq_vhost) as connection:
        channel = connection.default_channel
        declare_topology(channel)
        Producer(channel).publish(
            b"{}", exchange=RETRY_EXCHANGE, routing_key="payment.commands", headers={"x-retry-count": 1}
        )
        deadline = time.monotonic() + 10
        back = None
        while back is None and time.monotonic() < deadline:
            back = channel.basic_get("payment.commands", no_ack=True)
            time.sleep(0.05)

    assert back is not None, "the retried message never came back to payment.commands"
    assert back.headers["x-retry-count"] == 1


def import_definitions(definitions: dict) -> None:
    subprocess.run(
        ["rabbitmqctl", "-q", "import_definitions"],
        input=json.dumps(definitions).encode(),
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.mark.rabbitmq
@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_the_definitions_declare_what_the_processes_declare(rabbitmq_vhost, settings, queue_type):
    settings.RABBITMQ_QUEUE_TYPE = queue_type
    import_definitions(topology_definitions(vhost=vhost_of(rabbitmq_vhost)))

    with Connection(rabbitmq_vhost) as connection:
        declare_topology(connection.default_channel, passive=True)
        # A different argument anywhere would make the broker refuse this declare.
        declare_topology(connection.default_channel)
        Producer(connection.default_channel).publish(b"{}", exchange="saga.events", routing_key="payment.processed")
        time.sleep(0.2)
        delivered = connection.default_channel.basic_get("order.events", no_ack=True)

    queues = broker_queues(vhost_of(rabbitmq_vhost))
    assert {name: queues[name]["type"] for name in ALL_QUEUES} == dict.fromkeys(ALL_QUEUES, queue_type)
    assert delivered is not None, "the definitions bind order.events to saga.events"


@pytest.mark.rabbitmq
def test_a_passive_check_of_an_undeclared_topology_fails(rabbitmq_vhost):
    with Connection(rabbitmq_vhost) as connection, pytest.raises(amqp.exceptions.NotFound):
        declare_topology(connection.default_channel, passive=True)
