"""Dead-letter queues: look at them, send their messages back, empty them.

On RabbitMQ everything here talks plain AMQP 0-9-1 through py-amqp, so it
needs no management plugin. On the embedded mode's in-process broker
(``memory://``) the same functions work on its queues directly; they exist only
inside the ``make run`` process, so only code running there (the admin's
dead-letter page) can reach them.

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

The in-process broker has no acks to lean on: a look copies the messages, and
a redrive takes the chosen ones out of the DLQ, republishes them and puts back
at the head of the DLQ those that found no queue. Its messages die with the
process anyway.
"""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import amqp
import structlog
from django.conf import settings
from kombu import Connection, Producer

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
    headers: dict = dataclasses.field(default_factory=dict)


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


def dlq_broker_url() -> str:
    """The broker the DLQ tools connect to: ``DLQ_BROKER_URL`` (the operator's user), else the messaging broker."""
    return settings.DLQ_BROKER_URL or settings.MESSAGING_BROKER_URL


def dlq_broker_in_process(*, url: str | None = None) -> bool:
    """Whether the DLQs live in this process's embedded broker, out of reach of any other process."""
    return (url or dlq_broker_url()).startswith("memory://")


def dlq_depths(*, url: str | None = None) -> list[DlqDepth]:
    """Every DLQ of the topology with its number of ready messages. Changes nothing."""
    if dlq_broker_in_process(url=url):
        with _InProcessDlq() as in_process:
            return in_process.depths()
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
    if dlq_broker_in_process(url=url):
        with _InProcessDlq() as in_process:
            return in_process.peek(dlq_name, limit=limit)
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
    if dlq_broker_in_process(url=url):
        with _InProcessDlq() as in_process:
            return in_process.redrive(work_queue, limit=limit, message_id=message_id, on_progress=on_progress)
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
            exchange, routing_key = _destination(work_queue, _headers(message))
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
    if dlq_broker_in_process(url=url):
        with _InProcessDlq() as in_process:
            return in_process.purge(dlq_name)
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
    with Connection(url or dlq_broker_url(), heartbeat=0, connect_timeout=5) as connection:
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


def _destination(work_queue: WorkQueue, headers: dict) -> tuple[str, str]:
    """Where the message was first published: the consumer's x-original-* headers, else the work queue.

    A message the broker dead-lettered itself carries no x-original-* headers;
    its key is then looked up in ``x-death``. Without any key it goes straight
    to the work queue through the default exchange.
    """
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
    return _dead_letter(
        message_id=message.properties.get("message_id", ""),
        routing_key=message.delivery_info.get("routing_key", ""),
        headers=_headers(message),
        body=message.body,
    )


def _dead_letter(*, message_id, routing_key: str, headers: dict, body) -> DeadLetter:
    retry_count = headers.get(RETRY_COUNT)
    return DeadLetter(
        message_id=str(message_id or ""),
        routing_key=routing_key,
        headers=headers,
        reason=str(headers.get(DEAD_LETTER_REASON) or _death_reason(headers)),
        original_exchange=headers.get(ORIGINAL_EXCHANGE),
        original_routing_key=headers.get(ORIGINAL_ROUTING_KEY),
        retry_count=int(retry_count) if isinstance(retry_count, int) else None,
        body=body if isinstance(body, bytes) else str(body).encode(),
    )


def _death_reason(headers: dict) -> str:
    deaths = headers.get(DEATH_HEADER) or []
    if deaths:
        return f"dead-lettered by the broker: {deaths[0].get('reason', 'unknown')}"
    return ""


# --- The embedded mode's in-process broker -----------------------------------
# kombu's memory transport keeps every queue, a ``queue.Queue`` of raw message dicts, in one
# dict shared by all its channels in the process; the exchanges' bindings are in its global state.
# Properties of a raw message that belong to the transport, not to the message.
_TRANSPORT_PROPERTIES = ("delivery_info", "delivery_tag", "body_encoding")


class _InProcessDlq:
    """The DLQ operations on the memory transport, one use per instance: ``with _InProcessDlq() as dlq``."""

    def __enter__(self) -> "_InProcessDlq":
        self._connection = Connection("memory://")
        self._channel = self._connection.default_channel
        return self

    def __exit__(self, *exc_info) -> None:
        self._connection.release()

    def depths(self) -> list[DlqDepth]:
        return [DlqDepth(work_queue.dlq_name, self._size(work_queue.dlq_name)) for work_queue in WORK_QUEUES.values()]

    def peek(self, dlq_name: str, *, limit: int) -> list[DeadLetter]:
        if not self._channel._has_queue(dlq_name):
            return []
        queue = self._channel._queue_for(dlq_name)
        with queue.mutex:
            head = list(queue.queue)[:limit]
        return [self._letter(raw) for raw in head]

    def redrive(
        self, work_queue: WorkQueue, *, limit: int | None, message_id: str | None, on_progress: OnProgress
    ) -> RedriveResult:
        result = RedriveResult()
        if not self._channel._has_queue(work_queue.dlq_name):
            return result
        taken = self._take(work_queue.dlq_name, limit=limit, message_id=message_id)
        producer = Producer(self._channel)
        kept = []
        for number, raw in enumerate(taken, 1):
            letter = self._letter(raw)
            exchange, routing_key = _destination(work_queue, letter.headers)
            if self._routable(exchange, routing_key):
                self._republish(producer, raw, letter, exchange=exchange, routing_key=routing_key)
                result.redriven.append(letter.message_id)
                log.info(
                    "dlq.redriven",
                    queue=work_queue.dlq_name,
                    message_id=letter.message_id,
                    exchange=exchange,
                    routing_key=routing_key,
                )
            else:
                kept.append(raw)
                error = f"unroutable: {exchange or '(default)'}/{routing_key}"
                result.failed[letter.message_id] = error
                log.warning("dlq.redrive_failed", queue=work_queue.dlq_name, message_id=letter.message_id, error=error)
            on_progress(number, len(taken))
        if kept:
            queue = self._channel._queue_for(work_queue.dlq_name)
            with queue.mutex:
                queue.queue.extendleft(reversed(kept))
        return result

    def purge(self, dlq_name: str) -> int:
        if not self._channel._has_queue(dlq_name):
            return 0
        purged = self._channel._purge(dlq_name)
        log.warning("dlq.purged", queue=dlq_name, messages=purged)
        return purged

    def _take(self, dlq_name: str, *, limit: int | None, message_id: str | None) -> list[dict]:
        """Take the chosen messages out of the DLQ at once: one a consumer dead-letters meanwhile comes after them."""
        queue = self._channel._queue_for(dlq_name)
        with queue.mutex:
            chosen = [
                raw
                for raw in queue.queue
                if message_id is None or str(raw["properties"].get("message_id", "")) == message_id
            ][:limit]
            for raw in chosen:
                queue.queue.remove(raw)
        return chosen

    def _routable(self, exchange: str, routing_key: str) -> bool:
        # No exchange: the routing key names the queue. An unknown exchange or key finds no queue.
        return any(self._channel._has_queue(name) for name in self._channel._lookup(exchange, routing_key))

    def _republish(self, producer: Producer, raw: dict, letter: DeadLetter, *, exchange: str, routing_key: str):
        properties = {name: value for name, value in raw["properties"].items() if name not in _TRANSPORT_PROPERTIES}
        producer.publish(
            letter.body,
            exchange=exchange,
            routing_key=routing_key,
            headers={**letter.headers, RETRY_COUNT: 0},
            content_type=raw.get("content-type"),
            content_encoding=raw.get("content-encoding"),
            declare=[],
            **properties,
        )

    def _size(self, name: str) -> int | None:
        return self._channel._size(name) if self._channel._has_queue(name) else None

    def _letter(self, raw: dict) -> DeadLetter:
        properties = raw["properties"]
        return _dead_letter(
            message_id=properties.get("message_id", ""),
            routing_key=properties.get("delivery_info", {}).get("routing_key", ""),
            headers=dict(raw.get("headers") or {}),
            body=self._channel.decode_body(raw.get("body"), properties.get("body_encoding")),
        )
