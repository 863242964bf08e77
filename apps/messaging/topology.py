"""The broker topology, declared idempotently by the relay and by every consumer.

Where ``provision_access`` has set the broker up (``RABBITMQ_DECLARE_TOPOLOGY``
false), it declared the topology from ``topology_definitions`` and the
processes only check that each exchange and queue exists: a passive declare
needs no configure right, so no process can change or delete what it uses.

Each work queue has a ``.retry`` queue (fixed TTL, then dead-lettered straight
back to the work queue through the default exchange, so a retry never fans out
to other subscribers of a topic) and a ``.dlq`` (where the work queue's own
rejects and our explicit poison routing land).

With ``RABBITMQ_QUEUE_TYPE=quorum`` every one of those queues is a replicated
quorum queue with a delivery limit: the work queue (and its retry queue, which
nobody consumes) dead-letters a message redelivered more than
``RABBITMQ_DELIVERY_LIMIT`` times (a message that keeps killing its consumer),
and work and retry queues dead-letter at-least-once, so a broker failover
cannot drop a message between two queues. A DLQ has nowhere further to send a
message, and an operator's ``dlq show`` returns what it reads (each look is a
delivery), so its limit, ``RABBITMQ_DLQ_DELIVERY_LIMIT``, is high: it bounds a
message that crashes every reader, and pins the limit RabbitMQ 4 would
otherwise set to 20 by default. Classic mode declares exactly what it always
did: changing a queue's arguments makes RabbitMQ refuse the declare.
"""

import dataclasses

from django.conf import settings
from kombu import Exchange, Queue, binding

from apps.messaging.contracts import COMMANDS_EXCHANGE, EVENTS_EXCHANGE, RETRY_EXCHANGE

# Message headers by their names on the wire: set by the relay and the consumers, read by consumers and DLQ tools.
TRACE_ID_HEADER = "trace_id"
SAGA_ID_HEADER = "saga_id"
SCHEMA_VERSION_HEADER = "x-schema-version"
TRACEPARENT_HEADER = "traceparent"
RETRY_COUNT = "x-retry-count"
# Where a retried or dead-lettered message was first sent, so a redrive can send it there again.
ORIGINAL_ROUTING_KEY = "x-original-routing-key"
ORIGINAL_EXCHANGE = "x-original-exchange"
DEAD_LETTER_REASON = "x-dead-letter-reason"
# Set by the broker on a message it dead-lettered itself.
DEATH_HEADER = "x-death"

EXCHANGES = {
    COMMANDS_EXCHANGE: Exchange(COMMANDS_EXCHANGE, type="direct", durable=True),
    EVENTS_EXCHANGE: Exchange(EVENTS_EXCHANGE, type="topic", durable=True),
    RETRY_EXCHANGE: Exchange(RETRY_EXCHANGE, type="direct", durable=True),
}


@dataclasses.dataclass(frozen=True)
class WorkQueue:
    name: str
    exchange: str
    routing_keys: tuple[str, ...]

    @property
    def retry_name(self) -> str:
        return f"{self.name}.retry"

    @property
    def dlq_name(self) -> str:
        return f"{self.name}.dlq"

    def kombu_queues(self) -> list[Queue]:
        """The work queue with its bindings, its retry queue and its DLQ."""
        work_arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dlq_name}
        if _quorum():
            work_arguments["x-delivery-limit"] = settings.RABBITMQ_DELIVERY_LIMIT
        work = Queue(
            self.name,
            bindings=[_binding(self.exchange, key) for key in self.routing_keys],
            durable=True,
            queue_arguments=_typed(work_arguments, dead_letters=True),
        )
        retry_arguments = {
            "x-message-ttl": settings.RETRY_DELAY_MS,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.name,
        }
        dlq_arguments = {}
        if _quorum():
            retry_arguments["x-delivery-limit"] = settings.RABBITMQ_DELIVERY_LIMIT
            dlq_arguments["x-delivery-limit"] = settings.RABBITMQ_DLQ_DELIVERY_LIMIT
        retry = Queue(
            self.retry_name,
            exchange=EXCHANGES[RETRY_EXCHANGE],
            routing_key=self.name,
            durable=True,
            queue_arguments=_typed(retry_arguments, dead_letters=True),
        )
        dlq = Queue(self.dlq_name, durable=True, queue_arguments=_typed(dlq_arguments, dead_letters=False) or None)
        return [work, retry, dlq]


def _quorum() -> bool:
    return settings.RABBITMQ_QUEUE_TYPE == "quorum"


def _typed(arguments: dict, *, dead_letters: bool) -> dict:
    """Add the quorum-queue arguments in quorum mode; classic arguments stay as they were."""
    if not _quorum():
        return arguments
    typed = {**arguments, "x-queue-type": "quorum"}
    if dead_letters:
        # At-least-once dead-lettering needs reject-publish overflow; no length limit is set.
        typed.update({"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})
    return typed


def _binding(exchange: str, routing_key: str) -> binding:
    return binding(EXCHANGES[exchange], routing_key=routing_key)


WORK_QUEUES = {
    "inventory.commands": WorkQueue(
        "inventory.commands",
        COMMANDS_EXCHANGE,
        ("inventory.reserve", "inventory.release", "inventory.commit", "inventory.restock"),
    ),
    "payment.commands": WorkQueue("payment.commands", COMMANDS_EXCHANGE, ("payment.process", "payment.refund")),
    "order.events": WorkQueue("order.events", EVENTS_EXCHANGE, ("#",)),
}


def declare_topology(channel, *, passive: bool = False) -> None:
    """Declare every exchange and queue on ``channel``; safe to repeat.

    ``passive``: only check that each exists (bindings cannot be checked);
    raises the broker's NotFound for a missing one.
    """
    for exchange in EXCHANGES.values():
        exchange(channel).declare(passive=passive)
    for work_queue in WORK_QUEUES.values():
        for queue in work_queue.kombu_queues():
            if passive:
                queue(channel).queue_declare(passive=True)
            else:
                queue(channel).declare()


def topology_passive() -> bool:
    """Whether processes on RabbitMQ only check the topology, which provision_access declared."""
    return not settings.RABBITMQ_DECLARE_TOPOLOGY


def topology_definitions(*, vhost: str) -> dict:
    """The topology as RabbitMQ definitions (``rabbitmqctl import_definitions``): what ``declare_topology`` declares."""
    exchanges = [
        {
            "name": exchange.name,
            "vhost": vhost,
            "type": exchange.type,
            "durable": exchange.durable,
            "auto_delete": exchange.auto_delete,
            "internal": False,
            "arguments": {},
        }
        for exchange in EXCHANGES.values()
    ]
    queues, bindings = [], []
    for work_queue in WORK_QUEUES.values():
        for queue in work_queue.kombu_queues():
            queues.append(
                {
                    "name": queue.name,
                    "vhost": vhost,
                    "durable": queue.durable,
                    "auto_delete": queue.auto_delete,
                    "arguments": queue.queue_arguments or {},
                }
            )
            routes = [(entry.exchange.name, entry.routing_key) for entry in queue.bindings]
            if queue.exchange is not None and queue.exchange.name:
                routes.append((queue.exchange.name, queue.routing_key))
            bindings.extend(
                {
                    "source": exchange,
                    "vhost": vhost,
                    "destination": queue.name,
                    "destination_type": "queue",
                    "routing_key": routing_key,
                    "arguments": {},
                }
                for exchange, routing_key in routes
            )
    return {"exchanges": exchanges, "queues": queues, "bindings": bindings}
