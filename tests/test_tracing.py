"""One trace from POST /orders through the relay and every consumer and back, on MariaDB and RabbitMQ.

The web runs through Django's test client, the relay and the three consumers in
threads of the test process (their spans go to one in-memory exporter); the
databases and the broker are the real servers. Each hop's span must be the child
of the one before it, not only in the same trace.
"""

import contextlib
import threading
from decimal import Decimal

import pytest
from opentelemetry.trace import SpanKind

from apps.common.tests.tracing import CALLER_SPAN_ID, CALLER_TRACEPARENT, TRACE_ID
from apps.inventory.models import Inventory
from apps.messaging.consumer import ConsumerSpec, ConsumerWorker
from apps.messaging.publisher import ConfirmingPublisher
from apps.messaging.relay import relay_drain
from apps.messaging.tests.workers import wait_for
from apps.orders.models import SagaState, SagaStatus

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.rabbitmq,
    pytest.mark.django_db(databases=["default", "orders", "inventory", "payments"], transaction=True),
]


@contextlib.contextmanager
def consumers(url: str):
    """The three consumers, each in a thread, until the block ends."""
    names = ("inventory", "payments", "orders")
    workers = [ConsumerWorker(ConsumerSpec.from_settings(name), url=url) for name in names]
    threads = [threading.Thread(target=worker.run, name=f"{worker.spec.name}-consumer") for worker in workers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.stopping.set()
        for thread in threads:
            thread.join(10)


def one_child(spans, parent, *, kind: SpanKind, **attributes):
    """The one span of ``kind`` (with these attributes) whose parent is ``parent``."""
    children = [
        span
        for span in spans
        if span.kind is kind
        and span.parent is not None
        and span.parent.span_id == parent.context.span_id
        and all(span.attributes.get(key) == value for key, value in attributes.items())
    ]
    assert len(children) == 1, f"{len(children)} {kind.name} children of {parent.name} with {attributes}"
    return children[0]


def test_an_order_is_one_trace_from_the_web_through_every_consumer_and_back(
    spans, rabbitmq_vhost, bearer_client, customer
):
    from django.db import connections

    # Connections opened before recording started are not instrumented: open new ones.
    connections.close_all()
    Inventory.objects.create(product_id=5, available_qty=10, unit_price=Decimal("2.50"))
    publisher = ConfirmingPublisher(rabbitmq_vhost, confirm_timeout=10)

    with consumers(rabbitmq_vhost):
        wait_for(lambda: _queues_declared(rabbitmq_vhost), "the consumers declared the topology")
        response = bearer_client(customer).post(
            "/orders", {"product_id": 5, "quantity": 1}, format="json", HTTP_TRACEPARENT=CALLER_TRACEPARENT
        )
        assert response.status_code == 201, response.content
        relay_drain(using="orders", publisher=publisher)
        saga_id = response.json()["saga_id"]
        wait_for(
            lambda: (
                SagaState.objects.get(saga_id=saga_id).status == SagaStatus.COMPLETED
                and Inventory.objects.get(product_id=5).sold_qty == 1
            ),
            "the saga completed and inventory committed the sale",
        )
    publisher.close()

    finished = spans.get_finished_spans()
    assert {span.context.trace_id for span in finished if span.kind is not SpanKind.INTERNAL} == {int(TRACE_ID, 16)}
    [web] = [span for span in finished if span.kind is SpanKind.SERVER]
    assert (web.name, web.parent.span_id) == ("POST /orders", int(CALLER_SPAN_ID, 16))
    assert response["traceparent"] == f"00-{TRACE_ID}-{web.context.span_id:016x}-01"

    hop = web
    chain = [
        ("saga.commands", "inventory.reserve", "inventory.commands"),
        ("saga.events", "inventory.reserved", "order.events"),
        ("saga.commands", "payment.process", "payment.commands"),
        ("saga.events", "payment.processed", "order.events"),
        ("saga.commands", "inventory.commit", "inventory.commands"),
    ]
    for exchange, routing_key, queue in chain:
        publish = one_child(
            finished,
            hop,
            kind=SpanKind.PRODUCER,
            **{"messaging.destination.name": exchange, "messaging.rabbitmq.destination.routing_key": routing_key},
        )
        hop = one_child(
            finished,
            publish,
            kind=SpanKind.CONSUMER,
            **{"messaging.destination.name": queue, "messaging.rabbitmq.destination.routing_key": routing_key},
        )
        assert hop.attributes["messaging.outcome"] == "ok"
        # The handler's statements are the consumer span's children.
        assert any(span.kind is SpanKind.CLIENT and span.parent.span_id == hop.context.span_id for span in finished)
    # The placement's statements are the request's children.
    assert any(span.kind is SpanKind.CLIENT and span.parent.span_id == web.context.span_id for span in finished)
    assert SagaState.objects.get(saga_id=saga_id).trace_id == TRACE_ID


def _queues_declared(url: str) -> bool:
    from kombu import Connection

    try:
        with Connection(url) as connection:
            for queue in ("inventory.commands", "payment.commands", "order.events"):
                connection.default_channel.queue_declare(queue, passive=True)
        return True
    except Exception:
        return False
