"""The consumer runtime: one message, one transaction, ack after commit.

For each delivery: parse it against its contract, then in ONE transaction on the
consumer's database insert the inbox row (its unique message_id rejects a
second delivery), run the domain handler (business change plus reply rows in
the outbox) and commit; only then ack. Transient database errors are retried
in-process, then through the ``.retry`` queue with ``x-retry-count``, then sent
to the ``.dlq``. A body that can never be handled goes to the DLQ at once.
"""

import dataclasses
import enum
import json
import signal
import threading
import time
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, close_old_connections, connections, transaction
from django.utils.module_loading import import_string
from kombu import Connection, Consumer, Producer, Queue
from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode

from apps.common.process import CONNECTION_CHECK_INTERVAL
from apps.common.sql import (
    sql_batch,
    sql_in,
    sql_insert,
    sql_insert_many,
    sql_param,
    sql_rows,
    sql_uuid,
)
from apps.common.tracing import traceparent_context
from apps.messaging.contracts import CONTRACTS, RETRY_EXCHANGE, Contract, MalformedMessage
from apps.messaging.dispatch import AfterCommitDispatch, dispatching_after_commit, mark_pending
from apps.messaging.faults import CONSUMER_AFTER_COMMIT, crash_point
from apps.messaging.metrics import BATCHED, HANDLE_DURATION, HANDLED, UNTRUSTED
from apps.messaging.models import InboxMessage
from apps.messaging.outbox import outbox_batched
from apps.messaging.publisher import publisher_for
from apps.messaging.signing import Untrusted, message_verify
from apps.messaging.topology import (
    ORIGINAL_EXCHANGE,
    ORIGINAL_ROUTING_KEY,
    RETRY_COUNT,
    TRACEPARENT_HEADER,
    WORK_QUEUES,
    WorkQueue,
    declare_topology,
    topology_passive,
)

log = structlog.get_logger("messaging.consumer")
tracer = trace.get_tracer("apps.messaging")

TRANSIENT_ERRORS = (OperationalError, InterfaceError)


class Unprocessable(Exception):
    """A well-formed message this database can never act on (unknown saga, mismatched ids).

    Raised by a handler; the message goes straight to the DLQ for an operator.
    """


class Outcome(enum.StrEnum):
    OK = "ok"
    DUPLICATE = "duplicate"
    RETRY = "retried"
    DEAD_LETTER = "dead_lettered"


@dataclasses.dataclass(frozen=True)
class HandlerContext:
    using: str
    message_id: uuid.UUID
    routing_key: str


Handler = Callable[[Contract, HandlerContext], None]


@dataclasses.dataclass(frozen=True)
class ConsumerSpec:
    name: str
    queue: WorkQueue
    using: str
    handlers: dict[str, Handler]
    transient_retries: int

    @classmethod
    def from_settings(cls, name: str) -> "ConsumerSpec":
        config = settings.MESSAGING_CONSUMERS[name]
        return cls(
            name=name,
            queue=WORK_QUEUES[config["queue"]],
            using=config["database"],
            handlers=import_string(config["handlers"]),
            transient_retries=config["transient_retries"],
        )


@dataclasses.dataclass(frozen=True)
class Delivery:
    body: bytes
    routing_key: str
    message_id: str | None
    headers: dict


@dataclasses.dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str = ""
    # The span the message was handled in (none for one dead-lettered before), for the consumer.handled line.
    span: SpanContext | None = None


def parse_delivery(spec: ConsumerSpec, delivery: Delivery) -> tuple[Contract, HandlerContext] | Result:
    """The delivery's contract and context, or the dead-letter Result for a body that can never be handled
    or that its routing key's app did not sign (counted and logged: nothing acts on it)."""
    routing_key = _original_routing_key(delivery)
    if routing_key not in spec.handlers:
        return Result(Outcome.DEAD_LETTER, f"no handler for routing key {routing_key!r}")
    try:
        message_id = uuid.UUID(str(delivery.message_id))
        body = json.loads(delivery.body)
        message = CONTRACTS[routing_key].from_body(body)
    except (ValueError, MalformedMessage) as exc:
        return Result(Outcome.DEAD_LETTER, f"malformed message: {exc}")
    try:
        signed = message_verify(routing_key=routing_key, message_id=message_id, body=body, headers=delivery.headers)
    except Untrusted as exc:
        UNTRUSTED.labels(spec.queue.name, exc.kind).inc()
        log.warning(
            "consumer.untrusted",
            queue=spec.queue.name,
            routing_key=routing_key,
            message_id=str(message_id),
            kind=exc.kind,
            reason=str(exc),
        )
        return Result(Outcome.DEAD_LETTER, f"untrusted: {exc}")
    if not signed:
        UNTRUSTED.labels(spec.queue.name, "accepted_unsigned").inc()
    context = HandlerContext(using=spec.using, message_id=message_id, routing_key=routing_key)
    return message, context


def consume_span(spec: ConsumerSpec, delivery: Delivery) -> Span:
    """A consumer span for ``delivery``, child of the span that published it (its ``traceparent`` header).

    The header is not signed: a wrong one misplaces the span in another trace, and changes nothing else.
    """
    span = tracer.start_span(
        f"process {spec.queue.name}",
        context=traceparent_context(delivery.headers.get(TRACEPARENT_HEADER)),
        kind=SpanKind.CONSUMER,
    )
    if span.is_recording():
        span.set_attributes(
            {
                "messaging.system": "rabbitmq",
                "messaging.operation.name": "process",
                "messaging.destination.name": spec.queue.name,
                "messaging.rabbitmq.destination.routing_key": _original_routing_key(delivery),
                "messaging.message.id": str(delivery.message_id),
            }
        )
    return span


def _span_ended(span: Span, result: Result) -> Result:
    """End ``span`` with ``result``'s outcome; the result, naming its span."""
    if span.is_recording():
        span.set_attribute("messaging.outcome", result.outcome.value)
        if result.outcome in (Outcome.RETRY, Outcome.DEAD_LETTER):
            span.set_status(Status(StatusCode.ERROR, result.reason[:255]))
    span.end()
    return dataclasses.replace(result, span=span.get_span_context())


def _message_logged(message: Contract):
    """The message's saga and order on every line logged while it is handled."""
    return structlog.contextvars.bound_contextvars(
        **{key: str(value) for key, value in (("saga_id", message.saga_id), ("order_id", message.order_id)) if value}
    )


def handle_delivery(spec: ConsumerSpec, delivery: Delivery) -> Result:
    """Handle one delivery in one transaction, in a consumer span; say what to do with it at the broker."""
    span = consume_span(spec, delivery)
    with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        result = _handle_delivery(spec, delivery)
    return _span_ended(span, result)


def _handle_delivery(spec: ConsumerSpec, delivery: Delivery) -> Result:
    parsed = parse_delivery(spec, delivery)
    if isinstance(parsed, Result):
        return parsed
    message, context = parsed
    with _message_logged(message):
        return _handle_parsed(spec, message, context)


def _handle_parsed(spec: ConsumerSpec, message: Contract, context: HandlerContext) -> Result:
    routing_key = context.routing_key
    last_error = ""
    for attempt in range(spec.transient_retries + 1):
        try:
            outcome = _handle_once(spec, message, context)
        except Unprocessable as exc:
            return Result(Outcome.DEAD_LETTER, f"unprocessable: {exc}")
        except TRANSIENT_ERRORS as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            connections[spec.using].close_if_unusable_or_obsolete()
            time.sleep(min(0.005 * 2**attempt, 0.5))
            continue
        except Exception as exc:
            log.exception("consumer.handler_failed", routing_key=routing_key)
            return Result(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
        crash_point(CONSUMER_AFTER_COMMIT)
        return Result(outcome)
    return Result(Outcome.RETRY, last_error)


def _handle_once(spec: ConsumerSpec, message: Contract, context: HandlerContext) -> Outcome:
    with transaction.atomic(using=spec.using, durable=True):
        try:
            sql_insert(
                using=spec.using,
                model=InboxMessage,
                values={"message_id": context.message_id, "queue": spec.queue.name, "routing_key": context.routing_key},
            )
        except IntegrityError:
            # Seen before: the block rolls back (Django marked it) and the broker gets its ack.
            return Outcome.DUPLICATE
        spec.handlers[context.routing_key](message, context)
    return Outcome.OK


def handle_batch(spec: ConsumerSpec, deliveries: list[Delivery]) -> list[Result]:
    """Handle several deliveries in ONE transaction, one commit for all; results in order.

    Each message keeps its own semantics: its inbox row, its business change and
    its replies commit together, and it is acked only after that commit. Anything
    out of the ordinary (a duplicate racing in from another consumer, a handler
    error, a deadlock) rolls the whole batch back and every message is handled
    again on its own, in its own transaction, with the usual retries.
    """
    if len(deliveries) == 1:
        return [handle_delivery(spec, deliveries[0])]
    results: list[Result | None] = [None] * len(deliveries)
    work: list[tuple[int, Contract, HandlerContext]] = []
    # Each message's span stays open until the batch's commit, which it waits for as well.
    spans = [consume_span(spec, delivery) for delivery in deliveries]
    for index, delivery in enumerate(deliveries):
        with trace.use_span(spans[index], end_on_exit=False):
            parsed = parse_delivery(spec, delivery)
        if isinstance(parsed, Result):
            results[index] = _span_ended(spans[index], parsed)
        else:
            work.append((index, *parsed))
    if not work:
        return results
    try:
        duplicates = _handle_batch_once(spec, work, spans)
    except Exception as exc:
        connections[spec.using].close_if_unusable_or_obsolete()
        log.info("consumer.batch_fallback", queue=spec.queue.name, size=len(work), exc_info=True)
        for index, _message, _context in work:
            _span_ended(spans[index], Result(Outcome.RETRY, f"batch rolled back ({type(exc).__name__}), handled alone"))
            results[index] = handle_delivery(spec, deliveries[index])
        return results
    crash_point(CONSUMER_AFTER_COMMIT)
    for index, *_ in work:
        results[index] = _span_ended(spans[index], Result(Outcome.DUPLICATE if index in duplicates else Outcome.OK))
    return results


def _handle_batch_once(
    spec: ConsumerSpec, work: list[tuple[int, Contract, HandlerContext]], spans: list[Span]
) -> set[int]:
    with transaction.atomic(using=spec.using, durable=True):
        message_ids = [context.message_id for _, _, context in work]
        seen = {
            sql_uuid(message_id)
            for (message_id,) in sql_rows(
                using=spec.using,
                sql=f"SELECT message_id FROM messaging_inbox WHERE message_id IN {sql_in(message_ids)}",  # noqa: S608 -- placeholders only
                params=[
                    sql_param(using=spec.using, model=InboxMessage, field="message_id", value=value)
                    for value in message_ids
                ],
            )
        }
        duplicates, fresh = set(), []
        for index, message, context in work:
            if context.message_id in seen:
                duplicates.add(index)
            else:
                seen.add(context.message_id)
                fresh.append((index, message, context))
        # A twin committed by another consumer since the read fails this insert: the batch falls back.
        sql_insert_many(
            using=spec.using,
            model=InboxMessage,
            rows=[
                {"message_id": context.message_id, "queue": spec.queue.name, "routing_key": context.routing_key}
                for _, _, context in fresh
            ],
        )
        with outbox_batched(using=spec.using), sql_batch(using=spec.using):
            for index, message, context in fresh:
                span = spans[index]
                with trace.use_span(span, end_on_exit=False), _message_logged(message):
                    spec.handlers[context.routing_key](message, context)
    return duplicates


class ConsumerWorker:
    """The long-running loop of one consumer process (or thread, in the embedded mode)."""

    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        url: str | None = None,
        prefetch: int | None = None,
        batch_size: int | None = None,
    ):
        self.spec = spec
        self.url = url or settings.MESSAGING_BROKER_URL
        self.prefetch = prefetch or settings.CONSUMER_PREFETCH
        self.batch_size = max(1, min(batch_size or settings.CONSUMER_BATCH_SIZE, self.prefetch))
        self._buffer: list = []
        self.in_process = self.url.startswith("memory://")
        self.stopping = threading.Event()
        self._producer: Producer | None = None
        self._dispatch: AfterCommitDispatch | None = None
        self._connections_checked = 0.0
        self._batch_sizes = BATCHED.labels(spec.queue.name)

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT finish the message in hand, then stop."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())

    def run(self) -> None:
        if settings.OUTBOX_DISPATCH_AFTER_COMMIT:
            # The replies this consumer commits are published by it, right after each commit.
            self._dispatch = AfterCommitDispatch(databases={self.spec.using}, publisher=publisher_for(self.url))
        try:
            with dispatching_after_commit(self._dispatch):
                self._run()
        finally:
            if self._dispatch is not None:
                self._dispatch.publisher.close()
                mark_pending()

    def _run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                self._serve()
                backoff = 0.5
            except Exception as exc:  # noqa: BLE001 -- reconnect to the broker or database, whatever failed
                log.warning("consumer.disconnected", consumer=self.spec.name, error=str(exc), retry_in=backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        connections.close_all()
        log.info("consumer.stopped", consumer=self.spec.name)

    def _serve(self) -> None:
        transport_options = {"confirm_publish": True}
        if self.in_process:
            transport_options = {"polling_interval": 0.005}
        with Connection(self.url, heartbeat=30, connect_timeout=5, transport_options=transport_options) as connection:
            # A ``;``-separated URL is a list of cluster nodes: try each once before backing off.
            connection.ensure_connection(max_retries=max(1, len(connection.alt) - 1))
            channel = connection.channel()
            declare_topology(channel, passive=not self.in_process and topology_passive())
            channel.basic_qos(0, self.prefetch, False)
            self._producer = Producer(connection.channel())
            queue = Queue(self.spec.queue.name, no_declare=True)
            self._buffer = []
            with Consumer(channel, queues=[queue], on_message=self._buffer.append, auto_declare=False):
                log.info("consumer.started", consumer=self.spec.name, queue=self.spec.queue.name)
                while not self.stopping.is_set():
                    if batch := self._next_batch(connection):
                        self._handle(batch)

    def _next_batch(self, connection) -> list:
        """The deliveries to handle next: those already buffered, else wait up to a second for one.

        Deliveries also land in the buffer while a batch is being settled (a retry or
        dead-letter publish reads the socket while it waits for its confirm): those
        are taken at once, not left waiting for the next frame from the broker.
        """
        if not self._buffer:
            try:
                connection.drain_events(timeout=1)
            except TimeoutError:
                connection.heartbeat_check()
                return []
        # Take whatever else the broker has already sent, without waiting for more.
        while len(self._buffer) < self.batch_size:
            try:
                connection.drain_events(timeout=0.0005)
            except TimeoutError:
                break
        batch, self._buffer[:] = list(self._buffer), []
        return batch

    def _handle(self, messages: list) -> None:
        self._batch_sizes.observe(len(messages))
        deliveries = [
            Delivery(
                body=message.body if isinstance(message.body, bytes) else str(message.body).encode(),
                routing_key=message.delivery_info.get("routing_key", ""),
                message_id=message.properties.get("message_id"),
                headers=dict(message.headers or {}),
            )
            for message in messages
        ]
        now = time.monotonic()
        if now - self._connections_checked >= CONNECTION_CHECK_INTERVAL:
            # Drops a connection past CONN_MAX_AGE or broken, and makes the next use ping first.
            # Once a second, not per batch: a connection that dies in between fails the batch's
            # first statement, and the batch is handled again message by message, reconnecting.
            close_old_connections()
            self._connections_checked = now
        started = time.monotonic()
        try:
            results = handle_batch(self.spec, deliveries)
        finally:
            if self._dispatch is not None:
                self._dispatch.flush()
        for message, delivery, result in zip(messages, deliveries, results, strict=True):
            self._settle(message, delivery, result, started)
        if self.in_process:
            # kombu's in-memory channel ignores ``multiple``: ack each.
            for message in messages:
                message.ack()
        else:
            # Every message of the batch is settled (committed, retried or dead-lettered):
            # one ack covers them all (they are this channel's oldest unacked deliveries).
            messages[-1].ack(multiple=True)

    def _settle(self, message, delivery: Delivery, result: Result, started: float) -> None:
        """Retry or dead-letter as the result says, count and log; the caller acks."""
        if result.outcome is Outcome.RETRY:
            retries = _int_header(delivery.headers.get(RETRY_COUNT))
            if retries >= settings.RETRY_MAX_ATTEMPTS:
                result = Result(Outcome.DEAD_LETTER, f"gave up after {retries} retries: {result.reason}")
            else:
                self._republish(message, delivery, retry_count=retries + 1, reason=result.reason)
        if result.outcome is Outcome.DEAD_LETTER:
            self._dead_letter(message, delivery, result.reason)
        elapsed = time.monotonic() - started
        HANDLED.labels(self.spec.queue.name, result.outcome.value).inc()
        HANDLE_DURATION.labels(self.spec.queue.name).observe(elapsed)
        log_method = log.info if result.outcome in (Outcome.OK, Outcome.DUPLICATE) else log.warning
        span = result.span
        log_method(
            "consumer.handled",
            trace_id=f"{span.trace_id:032x}" if span else None,
            span_id=f"{span.span_id:016x}" if span else None,
            saga_id=delivery.headers.get("saga_id") or None,
            queue=self.spec.queue.name,
            routing_key=_original_routing_key(delivery),
            message_id=delivery.message_id,
            outcome=result.outcome.value,
            reason=result.reason or None,
            duration_ms=round(elapsed * 1000, 2),
        )

    def _republish(self, message, delivery: Delivery, *, retry_count: int, reason: str) -> None:
        headers = {
            **delivery.headers,
            RETRY_COUNT: retry_count,
            ORIGINAL_ROUTING_KEY: _original_routing_key(delivery),
            ORIGINAL_EXCHANGE: _original_exchange(message, delivery),
            "x-last-error": reason[:255],
        }
        if self.in_process:
            # memory:// has no TTL: wait here, then put it straight back on the work queue.
            self.stopping.wait(settings.RETRY_DELAY_MS / 1000)
            exchange, routing_key = "", self.spec.queue.name
        else:
            exchange, routing_key = RETRY_EXCHANGE, self.spec.queue.name
        self._publish(message, delivery, exchange=exchange, routing_key=routing_key, headers=headers)

    def _dead_letter(self, message, delivery: Delivery, reason: str) -> None:
        headers = {
            **delivery.headers,
            ORIGINAL_ROUTING_KEY: _original_routing_key(delivery),
            ORIGINAL_EXCHANGE: _original_exchange(message, delivery),
            "x-dead-letter-reason": reason[:255],
        }
        self._publish(message, delivery, exchange="", routing_key=self.spec.queue.dlq_name, headers=headers)

    def _publish(self, message, delivery: Delivery, *, exchange: str, routing_key: str, headers: dict) -> None:
        properties = message.properties
        self._producer.publish(
            delivery.body,
            exchange=exchange,
            routing_key=routing_key,
            headers=headers,
            message_id=delivery.message_id,
            content_type=message.content_type or "application/json",
            content_encoding=message.content_encoding or "utf-8",
            type=properties.get("type"),
            delivery_mode=2,
            declare=[],
        )


def _original_exchange(message, delivery: Delivery) -> str:
    # A retried message comes back through the default exchange: the first delivery's exchange
    # travels in the header, so a redrive from the DLQ knows where the message was first sent.
    return delivery.headers.get(ORIGINAL_EXCHANGE) or message.delivery_info.get("exchange", "")


def _original_routing_key(delivery: Delivery) -> str:
    """The routing key the message was first sent with (a retried one carries it in a header)."""
    return _str_header(delivery.headers.get(ORIGINAL_ROUTING_KEY)) or delivery.routing_key


def _str_header(value) -> str:
    return value if isinstance(value, str) else ""


def _int_header(value) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0
