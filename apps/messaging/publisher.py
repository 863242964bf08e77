"""Publishing a batch of outbox rows to the broker and learning which ones it took.

On RabbitMQ the channel is in confirm mode: the whole batch is published, then
the broker's acks are drained once (an ack with ``multiple`` covers many), which
is about ten times faster than waiting for each confirm. Every message is
persistent and mandatory: an unroutable one comes back as basic.return and is
reported as failed, never silently dropped.
"""

import contextlib
import dataclasses
import threading
import time
from collections.abc import Sequence
from functools import partial

import amqp
import structlog
from amqp import spec as amqp_spec
from amqp.serialization import dumps as amqp_dumps
from django.conf import settings
from kombu import Connection, Producer

from apps.messaging.faults import RELAY_MID_PUBLISH, crash_after, crash_point
from apps.messaging.topology import declare_topology, topology_passive

log = structlog.get_logger("messaging.publisher")


class PublishError(Exception):
    """The broker could not be reached or did not confirm in time; nothing is known published."""


@dataclasses.dataclass(frozen=True)
class Outgoing:
    message_id: str
    exchange: str
    routing_key: str
    body: bytes
    headers: dict
    message_type: str


@dataclasses.dataclass
class PublishResult:
    confirmed: set[str] = dataclasses.field(default_factory=set)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)


class ConfirmingPublisher:
    """A py-amqp channel in confirm mode, kept open across batches."""

    def __init__(self, url: str, *, confirm_timeout: float):
        self._url = url
        self._confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._channel = None
        self._next_tag = 1
        self._batch_first_tag = 1
        self._outcomes: dict[int, bool] = {}
        self._returned: dict[str, str] = {}

    def sibling(self) -> "ConfirmingPublisher":
        """A publisher like this one on a connection of its own (for another thread)."""
        return type(self)(self._url, confirm_timeout=self._confirm_timeout)

    def publish_batch(self, batch: Sequence[Outgoing]) -> PublishResult:
        """Publish ``batch`` and wait once for all its confirms.

        Raises PublishError when the broker is unreachable or too slow to confirm;
        the connection is then dropped and rebuilt on the next call.
        """
        try:
            return self._publish_batch(batch)
        except PublishError:
            self._drop()
            raise
        except Exception as exc:
            self._drop()
            raise PublishError(str(exc)) from exc

    def _publish_batch(self, batch: Sequence[Outgoing]) -> PublishResult:
        channel = self._ensure_channel()
        tags: dict[int, str] = {}
        self._batch_first_tag = self._next_tag
        self._outcomes.clear()
        self._returned.clear()
        timestamp = int(time.time())
        crash_at = crash_after(RELAY_MID_PUBLISH, len(batch))
        publish = self._publisher(channel)
        with self._corked() as flush:
            for item in batch:
                message = amqp.Message(
                    item.body,
                    content_type="application/json",
                    delivery_mode=2,
                    message_id=item.message_id,
                    type=item.message_type,
                    timestamp=timestamp,
                    application_headers=item.headers,
                )
                publish(message, item.exchange, item.routing_key)
                tags[self._next_tag] = item.message_id
                self._next_tag += 1
                if len(tags) == crash_at:
                    # Half the batch on the wire, none of it confirmed, then the process dies.
                    flush()
                    crash_point(RELAY_MID_PUBLISH)
        deadline = time.monotonic() + self._confirm_timeout
        while len(self._outcomes) < len(tags):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishError(f"broker confirmed {len(self._outcomes)} of {len(tags)} messages in time")
            self._connection.drain_events(timeout=remaining)
        result = PublishResult()
        for tag, message_id in tags.items():
            if message_id in self._returned:
                result.failed[message_id] = self._returned[message_id]
            elif self._outcomes.get(tag):
                result.confirmed.add(message_id)
            else:
                result.failed[message_id] = "nacked by broker"
        return result

    @staticmethod
    def _publisher(channel):
        """``publish(message, exchange, routing_key)``: basic.publish, mandatory, straight to the frame writer.

        py-amqp's ``basic_publish`` wraps every message in a socket-timeout context
        manager and a promise, and serialises the same method arguments again for
        each message: together about a fifth of the relay's CPU per message. This
        writes the same method frame (``Basic.Publish``, ``Bssbb``) and content
        through the connection's own frame writer, with the arguments serialised
        once per exchange and routing key. Without a frame writer (another
        transport), it is plain ``basic_publish``.
        """
        write_frame = getattr(channel.connection, "frame_writer", None)
        if write_frame is None:
            return lambda message, exchange, routing_key: channel.basic_publish(
                message, exchange=exchange, routing_key=routing_key, mandatory=True
            )
        arguments: dict[tuple[str, str], bytes] = {}

        def publish(message, exchange: str, routing_key: str) -> None:
            key = (exchange, routing_key)
            packed = arguments.get(key)
            if packed is None:
                packed = arguments[key] = amqp_dumps("Bssbb", (0, exchange, routing_key, True, False))
            write_frame(1, channel.channel_id, amqp_spec.Basic.Publish, packed, message)

        return publish

    @contextlib.contextmanager
    def _corked(self):
        """Collect the batch's frames and send them in one write instead of one per message.

        py-amqp writes each publish straight to the socket (a system call and,
        often, a packet per message); gathering them made a batch of 500 publish
        3.7 times faster here. The frames go out, in order, before the confirms
        are awaited; the context yields a ``flush`` that sends what is gathered so
        far. Relies on py-amqp's transport writing through ``_write``; without
        it, publishing is simply not corked.
        """
        transport = self._connection.connection.transport
        write = getattr(transport, "_write", None)
        if write is None:
            yield lambda: None
            return
        frames: list[bytes] = []

        def flush() -> None:
            if frames:
                write(b"".join(frames))
                frames.clear()

        # py-amqp hands over a view of a buffer it reuses for the next frame: copy it.
        transport._write = lambda data: frames.append(bytes(data))
        try:
            yield flush
        finally:
            transport._write = write
        flush()

    def _ensure_channel(self):
        if self._channel is not None:
            return self._channel
        connection = Connection(self._url, heartbeat=0, connect_timeout=5)
        # A ``;``-separated URL is a list of cluster nodes: each is tried once, in turn.
        connection.ensure_connection(max_retries=max(1, len(connection.alt) - 1))
        # py-amqp polls the socket before every publish for a connection.blocked notice
        # (a recv per message: a third of a drain). The notice still arrives, and is
        # handled, while the batch's confirms are drained; a blocked broker shows up
        # as a confirm timeout, which leaves the rows for the next try.
        connection.connection.client_properties.get("capabilities", {})["connection.blocked"] = False
        channel = connection.channel()
        declare_topology(channel, passive=topology_passive())
        channel.confirm_select()
        channel.events["basic_ack"].add(partial(self._record, acked=True))
        channel.events["basic_nack"].add(partial(self._record, acked=False))
        channel.events["basic_return"].add(self._on_return)
        self._connection, self._channel, self._next_tag = connection, channel, 1
        return channel

    def _record(self, delivery_tag: int, multiple: bool, *, acked: bool) -> None:
        if not multiple:
            self._outcomes[delivery_tag] = acked
            return
        for tag in range(self._batch_first_tag, delivery_tag + 1):
            self._outcomes.setdefault(tag, acked)

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        message_id = message.properties.get("message_id", "")
        self._returned[message_id] = f"unroutable: {exchange}/{routing_key} ({exc.reply_text})"

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:
                log.debug("publisher.close_failed", exc_info=True)

    def _drop(self) -> None:
        """Forget a connection that failed, without the closing handshake.

        A node that stopped answering (frozen, partitioned) would hold a polite
        close until it came back; the socket is simply closed, and the next batch
        connects afresh, to the next host of a ``;``-separated URL list when this
        one does not answer (kombu's failover).
        """
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.collect()
            except Exception:
                log.debug("publisher.drop_failed", exc_info=True)


class InProcessPublisher:
    """The embedded mode's publisher over kombu's memory transport: delivery is a function call."""

    def __init__(self, url: str):
        self._url = url
        self._connection = Connection(url)
        self._producer = Producer(self._connection.channel())
        declare_topology(self._producer.channel)

    def publish_batch(self, batch: Sequence[Outgoing]) -> PublishResult:
        for item in batch:
            self._producer.publish(
                item.body,
                exchange=item.exchange,
                routing_key=item.routing_key,
                headers=item.headers,
                message_id=item.message_id,
                type=item.message_type,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )
        return PublishResult(confirmed={item.message_id for item in batch})

    def sibling(self) -> "InProcessPublisher":
        return InProcessPublisher(self._url)

    def close(self) -> None:
        self._connection.release()


_local = threading.local()


def publisher_for_thread() -> ConfirmingPublisher | InProcessPublisher:
    """One long-lived publisher per thread (Celery prefork children each get their own)."""
    publisher = getattr(_local, "publisher", None)
    if publisher is None:
        publisher = _local.publisher = publisher_for(settings.MESSAGING_BROKER_URL)
    return publisher


def publisher_for(url: str) -> ConfirmingPublisher | InProcessPublisher:
    """A new publisher to the broker at ``url``: confirming on RabbitMQ, in-process on memory://."""
    if url.startswith("memory://"):
        return InProcessPublisher(url)
    return ConfirmingPublisher(url, confirm_timeout=settings.RELAY_CONFIRM_TIMEOUT)
