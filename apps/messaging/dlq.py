"""Dead-letter queues: look at them, send their messages back, empty them. AMQP only.

Everything here talks plain AMQP 0-9-1 through py-amqp, so it needs no
management plugin.

Looking without consuming: messages are taken with ``basic_get`` and no ack,
then the channel is closed. The broker puts every unacknowledged message back
in its original position, so nothing is lost and the order is kept (they come
back marked ``redelivered``). Rejecting each one with ``requeue`` instead would
put it back at the head, where the next ``basic_get`` would take it again.
While a look is in progress those messages are invisible to anyone else.

Redrive: each message is republished, byte for byte with all its properties, to
the exchange and routing key it was first sent to, with ``x-retry-count`` reset
to 0, on a confirm-mode channel with ``mandatory``. Its DLQ copy is acked only
after the broker has confirmed the new copy, so a crash in between leaves the
message in both places: a duplicate, which the consumer's inbox absorbs, never
a loss. A message the broker cannot route stays in the DLQ.
"""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import amqp
import structlog
from django.conf import settings
from kombu import Connection

from apps.common.progress import OnProgress, no_progress
from apps.messaging.topology import (
    DEAD_LETTER_REASON,
    DEATH_HEADER,
    ORIGINAL_EXCHANGE,
    ORIGINAL_ROUTING_KEY,
    RETRY_COUNT,
    WORK_QUEUES,
    WorkQueue,
)

log = structlog.get_logger("messaging.dlq")

DLQ_SUFFIX = ".dlq"


class UnknownQueue(ValueError):
    """The name is neither a work queue nor the DLQ of one."""


class BrokerIsInProcess(RuntimeError):
    """The embedded mode's broker lives inside its own process; no other process can reach it."""


@dataclasses.dataclass(frozen=True)
class DlqDepth:
    queue: str
    messages: int | None  # None: the queue does not exist (no consumer has declared it yet)


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    message_id: str
    routing_key: str
    reason: str
    original_exchange: str | None
    original_routing_key: str | None
    retry_count: int | None
    body: bytes


@dataclasses.dataclass
class RedriveResult:
    redriven: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)


def dlq_resolve(*, queue: str) -> WorkQueue:
    """The work queue named by ``queue``, given as ``inventory.commands`` or ``inventory.commands.dlq``.

    Raises UnknownQueue for any other name.
    """
    name = queue.removesuffix(DLQ_SUFFIX)
    try:
        return WORK_QUEUES[name]
    except KeyError:
        known = ", ".join(work_queue.dlq_name for work_queue in WORK_QUEUES.values())
        raise UnknownQueue(f"unknown queue {queue!r}; the DLQs are {known}") from None


def dlq_depths(*, url: str | None = None) -> list[DlqDepth]:
    """Every DLQ of the topology with its number of ready messages. Changes nothing."""
    depths = []
    with _connection(url) as connection:
        for work_queue in WORK_QUEUES.values():
            channel = connection.channel()
            try:
                declared = channel.queue_declare(work_queue.dlq_name, passive=True)
            except amqp.exceptions.NotFound:
                # A failed passive declare closes the channel; the next queue gets a new one.
                depths.append(DlqDepth(work_queue.dlq_name, None))
                continue
            depths.append(DlqDepth(work_queue.dlq_name, declared.message_count))
            channel.close()
    return depths


def dlq_peek(*, queue: str, limit: int, url: str | None = None) -> list[DeadLetter]:
    """Up to ``limit`` messages from the head of ``queue``'s DLQ, left in place and in order.

    Raises UnknownQueue for a name that is not one of ours.
    """
    dlq_name = dlq_resolve(queue=queue).dlq_name
    with _connection(url) as connection:
        channel = _raw_channel(connection)
        letters = [_as_dead_letter(message) for message in _take(channel, dlq_name, limit=limit)]
        # Closing with no ack returns every message to where it was.
        channel.close()
    return letters


def dlq_redrive(
    *,
    queue: str,
    limit: int | None = None,
    message_id: str | None = None,
    url: str | None = None,
    confirm_timeout: float | None = None,
    on_progress: OnProgress = no_progress,
) -> RedriveResult:
    """Send messages of ``queue``'s DLQ back to where they were first published.

    Takes up to ``limit`` messages (all when None) from the DLQ, or only those
    whose ``message_id`` matches. Messages that are skipped, refused by the
    broker or not confirmed in time stay in the DLQ, in their place. Scans at
    most the messages present when it starts, so a message that fails again and
    comes back while it runs is not sent a second time. ``on_progress`` hears
    (messages looked at, messages it will look at) after each one.

    Raises UnknownQueue for a name that is not one of ours.
    """
    work_queue = dlq_resolve(queue=queue)
    confirm_timeout = confirm_timeout or settings.RELAY_CONFIRM_TIMEOUT
    result = RedriveResult()
    with _connection(url) as connection:
        source = _raw_channel(connection)
        sink = _ConfirmChannel(connection, confirm_timeout=confirm_timeout)
        # Without a message id every message taken counts against the limit: take no more than that.
        budget = limit if message_id is None else None
        for message in _take(source, work_queue.dlq_name, limit=budget, on_progress=on_progress):
            if limit is not None and len(result.redriven) + len(result.failed) >= limit:
                break
            current_id = str(message.properties.get("message_id", ""))
            if message_id is not None and current_id != message_id:
                continue
            exchange, routing_key = _destination(work_queue, message)
            error = sink.publish(_redriven_copy(message), exchange=exchange, routing_key=routing_key)
            if error is None:
                source.basic_ack(message.delivery_info["delivery_tag"])
                result.redriven.append(current_id)
                log.info(
                    "dlq.redriven",
                    queue=work_queue.dlq_name,
                    message_id=current_id,
                    exchange=exchange,
                    routing_key=routing_key,
                )
            else:
                result.failed[current_id] = error
                log.warning("dlq.redrive_failed", queue=work_queue.dlq_name, message_id=current_id, error=error)
        # Whatever was taken and not acked (skipped or refused) goes back in place.
        source.close()
        sink.close()
    return result


def dlq_purge(*, queue: str, url: str | None = None) -> int:
    """Delete every ready message of ``queue``'s DLQ; return how many.

    Messages someone is looking at (taken, not yet acked) are not purged.
    Raises UnknownQueue for a name that is not one of ours.
    """
    dlq_name = dlq_resolve(queue=queue).dlq_name
    with _connection(url) as connection:
        channel = connection.channel()
        try:
            purged = channel.queue_purge(dlq_name)
        except amqp.exceptions.NotFound:
            return 0
        channel.close()
    log.warning("dlq.purged", queue=dlq_name, messages=purged)
    return purged or 0


# --- AMQP plumbing -----------------------------------------------------------
@contextmanager
def _connection(url: str | None) -> Iterator[amqp.Connection]:
    url = url or settings.MESSAGING_BROKER_URL
    if url.startswith("memory://"):
        raise BrokerIsInProcess("the embedded broker is only reachable from inside `make run`; set CELERY_BROKER_URL")
    with Connection(url, heartbeat=0, connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=1)
        yield connection.connection


def _raw_channel(connection: amqp.Connection):
    channel = connection.channel()
    # Bodies stay bytes: a poison body need not be valid text, and a redrive must copy it exactly.
    channel.auto_decode = False
    return channel


def _take(channel, queue: str, *, limit: int | None, on_progress: OnProgress = no_progress) -> Iterator[amqp.Message]:
    """Messages from the head of ``queue``, unacked, at most as many as it held at the start.

    ``on_progress`` hears (taken, budget) once the caller is done with each message.
    """
    try:
        first = channel.basic_get(queue, no_ack=False)
    except amqp.exceptions.NotFound:
        return
    if first is None:
        return
    # message_count is what remained after this one: the queue's depth when we began.
    budget = first.delivery_info["message_count"] + 1
    if limit is not None:
        budget = min(budget, limit)
    message = first
    for taken in range(1, budget + 1):
        yield message
        on_progress(taken, budget)
        if taken == budget:
            return
        message = channel.basic_get(queue, no_ack=False)
        if message is None:
            return


class _ConfirmChannel:
    """A confirm-mode channel that publishes one message and says whether the broker took it."""

    def __init__(self, connection: amqp.Connection, *, confirm_timeout: float):
        self._connection = connection
        self._confirm_timeout = confirm_timeout
        self._returned: str | None = None
        self._channel = None

    def publish(self, message: amqp.Message, *, exchange: str, routing_key: str) -> str | None:
        """None when the broker confirmed it; otherwise why not."""
        channel = self._ensure()
        self._returned = None
        try:
            channel.basic_publish_confirm(
                message,
                exchange=exchange,
                routing_key=routing_key,
                mandatory=True,
                confirm_timeout=self._confirm_timeout,
            )
        except amqp.exceptions.MessageNacked:
            return "nacked by broker"
        except amqp.exceptions.ChannelError as exc:
            # e.g. the exchange does not exist: the broker closed this channel.
            self._channel = None
            return f"refused: {exc}"
        except TimeoutError:
            self.close()
            return f"not confirmed within {self._confirm_timeout} s"
        # A basic.return always arrives before the confirm of the same message.
        return self._returned

    def _ensure(self):
        if self._channel is None:
            self._channel = self._connection.channel()
            self._channel.events["basic_return"].add(self._on_return)
        return self._channel

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        self._returned = f"unroutable: {exchange or '(default)'}/{routing_key} ({exc.reply_text})"

    def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and channel.is_open:
            channel.close()


def _headers(message: amqp.Message) -> dict:
    return dict(message.properties.get("application_headers") or {})


def _destination(work_queue: WorkQueue, message: amqp.Message) -> tuple[str, str]:
    """Where the message was first published: the consumer's x-original-* headers, else the work queue.

    A message the broker dead-lettered itself carries no x-original-* headers;
    its key is then looked up in ``x-death``. Without any key it goes straight
    to the work queue through the default exchange.
    """
    headers = _headers(message)
    routing_key = headers.get(ORIGINAL_ROUTING_KEY) or _death_routing_key(headers, work_queue.name)
    if not routing_key:
        return "", work_queue.name
    return headers.get(ORIGINAL_EXCHANGE) or work_queue.exchange, str(routing_key)


def _death_routing_key(headers: dict, work_queue: str) -> str | None:
    for death in headers.get(DEATH_HEADER) or []:
        if death.get("queue") == work_queue and death.get("routing-keys"):
            return str(death["routing-keys"][0])
    return None


def _redriven_copy(message: amqp.Message) -> amqp.Message:
    properties = dict(message.properties)
    properties["application_headers"] = {**_headers(message), RETRY_COUNT: 0}
    return amqp.Message(message.body, **properties)


def _as_dead_letter(message: amqp.Message) -> DeadLetter:
    headers = _headers(message)
    retry_count = headers.get(RETRY_COUNT)
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    return DeadLetter(
        message_id=str(message.properties.get("message_id", "")),
        routing_key=message.delivery_info.get("routing_key", ""),
        reason=str(headers.get(DEAD_LETTER_REASON) or _death_reason(headers)),
        original_exchange=headers.get(ORIGINAL_EXCHANGE),
        original_routing_key=headers.get(ORIGINAL_ROUTING_KEY),
        retry_count=int(retry_count) if isinstance(retry_count, int) else None,
        body=body,
    )


def _death_reason(headers: dict) -> str:
    deaths = headers.get(DEATH_HEADER) or []
    if deaths:
        return f"dead-lettered by the broker: {deaths[0].get('reason', 'unknown')}"
    return ""
