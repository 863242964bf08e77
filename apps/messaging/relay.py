"""The relay: claim undispatched outbox rows, publish them with confirms, mark them.

Claims use ``SELECT ... FOR UPDATE SKIP LOCKED`` inside one transaction, so
several relays split a backlog without waiting on each other. The row locks are
held while the batch is published; a relay that dies anywhere before the commit
leaves its rows undispatched and claimable again, and the second publish is
absorbed by the consumers' inbox. Rows are never found through an id watermark:
auto-increment ids commit out of order.
"""

import dataclasses
import threading
import time
import uuid
from datetime import timedelta
from typing import NamedTuple

import structlog
from django.conf import settings
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone
from opentelemetry import trace
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from apps.common.sql import sql_execute, sql_in, sql_param, sql_rows, sql_uuid
from apps.common.tracing import trace_id_of, traceparent_context
from apps.messaging.contracts import CONTRACTS
from apps.messaging.faults import RELAY_AFTER_CLAIM, RELAY_AFTER_PUBLISH, crash_point
from apps.messaging.metrics import BATCH_SIZE, PUBLISH_DURATION, PUBLISH_ERRORS, PUBLISH_FAILURES, PUBLISHED
from apps.messaging.models import OutboxMessage
from apps.messaging.publisher import Outgoing, PublishError
from apps.messaging.signing import PRODUCER_HEADER, SIGNATURE_HEADER
from apps.messaging.topology import (
    RETRY_COUNT,
    SAGA_ID_HEADER,
    SCHEMA_VERSION_HEADER,
    TRACE_ID_HEADER,
    TRACEPARENT_HEADER,
)

log = structlog.get_logger("messaging.relay")
tracer = trace.get_tracer("apps.messaging")

FAILED_ROW_BACKOFF = timedelta(seconds=5)


@dataclasses.dataclass(frozen=True)
class BatchResult:
    claimed: int
    published: int
    failed: int


class Claimed(NamedTuple):
    pk: int
    message_id: uuid.UUID | str  # a claimed row's is its canonical text, as the column reads on MariaDB
    exchange: str
    routing_key: str
    message_type: str
    body: str
    # The span that wrote the row (apps.common.tracing): the publish span's parent.
    traceparent: str
    saga_id: uuid.UUID | str | None
    publish_attempts: int
    # The producing app's signature, made when the row was written (apps.messaging.signing).
    signature: str


# Oldest first, never by id watermark; the JSON payload is selected as the text it is stored as.
CLAIM_SQL = (
    "SELECT id, message_id, exchange, routing_key, message_type, payload, traceparent, saga_id, publish_attempts,"
    " signature"
    " FROM messaging_outbox WHERE dispatched_at IS NULL AND (retry_at IS NULL OR retry_at <= %s)"
    " ORDER BY id LIMIT %s"
)


# One round trip, no transaction and no lock: whether a claim would find anything.
PROBE_SQL = (
    "SELECT id FROM messaging_outbox WHERE dispatched_at IS NULL AND (retry_at IS NULL OR retry_at <= %s) LIMIT 1"
)


def relay_has_claimable(*, using: str) -> bool:
    """Whether ``using``'s outbox holds a row a claim would take now (a cheap read, no lock)."""
    now = sql_param(using=using, model=OutboxMessage, field="retry_at", value=timezone.now())
    return bool(sql_rows(using=using, sql=PROBE_SQL, params=[now]))


def relay_dispatch_batch(*, using: str, publisher, batch_size: int) -> BatchResult:
    """Publish up to ``batch_size`` undispatched rows of ``using`` and mark the confirmed ones.

    Raises PublishError (after rolling back the claim) when the broker is unavailable.
    """
    now = sql_param(using=using, model=OutboxMessage, field="retry_at", value=timezone.now())
    with transaction.atomic(using=using, durable=True):
        # The payload is read as the JSON text it is stored as and published as is.
        rows = [
            Claimed(pk, _uuid_text(message_id), *values, _uuid_text(saga_id), attempts, signature)
            for pk, message_id, *values, saga_id, attempts, signature in sql_rows(
                using=using,
                sql=CLAIM_SQL,
                params=[now, batch_size],
                skip_locked=True,
            )
        ]
        if not rows:
            return BatchResult(0, 0, 0)
        crash_point(RELAY_AFTER_CLAIM)
        BATCH_SIZE.labels(using).observe(len(rows))
        started = time.perf_counter()
        try:
            result = publish_traced(publisher, rows)
        except PublishError:
            PUBLISH_ERRORS.labels(using).inc()
            raise
        PUBLISH_DURATION.labels(using).observe(time.perf_counter() - started)
        crash_point(RELAY_AFTER_PUBLISH)
        confirmed = [row.pk for row in rows if row.message_id in result.confirmed]
        if confirmed:
            dispatched_at = sql_param(using=using, model=OutboxMessage, field="dispatched_at", value=timezone.now())
            sql_execute(
                using=using,
                sql=f"UPDATE messaging_outbox SET dispatched_at = %s WHERE id IN {sql_in(confirmed)}",  # noqa: S608 -- placeholders only
                params=[dispatched_at, *confirmed],
            )
        for row in rows:
            reason = result.failed.get(row.message_id)
            if reason is not None:
                _record_failure(using, row, reason)
    trace_ids = [trace_id_of(row.traceparent) for row in rows]
    note_published(log, using, published=len(confirmed), failed=len(result.failed), trace_ids=trace_ids)
    return BatchResult(len(rows), len(confirmed), len(result.failed))


def note_published(logger, using: str, *, published: int, failed: int, trace_ids) -> None:
    """Count a published batch, and log one line naming every trace in it: grep <trace_id> finds this hop."""
    PUBLISHED.labels(using).inc(published)
    logger.info(
        "outbox.batch_published",
        database=using,
        published=published,
        failed=failed,
        trace_ids=sorted({trace_id for trace_id in trace_ids if trace_id}),
    )


def relay_drain(
    *, using: str, publisher, batch_size: int | None = None, max_batches: int = 100, drainers: int | None = None
) -> int:
    """Publish batches until ``using`` has no claimable row left (or ``max_batches`` each); return the count.

    When the first batch comes back full (a backlog), up to ``drainers`` - 1 more
    threads drain beside this one, each with its own database connection and
    broker channel (RELAY_DRAINERS, 2). While one waits for its batch's confirms,
    the other claims and publishes the next batch: SKIP LOCKED keeps their rows
    apart, exactly as for two relay processes.
    """
    batch_size = batch_size or settings.RELAY_BATCH_SIZE
    drainers = drainers or settings.RELAY_DRAINERS
    first = relay_dispatch_batch(using=using, publisher=publisher, batch_size=batch_size)
    if first.claimed < batch_size:
        return first.published
    if not connections[using].features.has_select_for_update_skip_locked:
        drainers = 1  # Without SKIP LOCKED, a second drainer would only queue behind the first.
    counts = [0] * (drainers - 1)
    helpers = [
        threading.Thread(
            target=_helper_drain,
            args=(using, publisher.sibling(), batch_size, max_batches, counts, index),
            name=f"relay-drainer-{index + 1}",
        )
        for index in range(drainers - 1)
    ]
    for helper in helpers:
        helper.start()
    try:
        own = first.published + _drain(using, publisher, batch_size, max_batches - 1)
    finally:
        for helper in helpers:
            helper.join()
    log.info("relay.drained", database=using, drainers=[own, *counts])
    return own + sum(counts)


def _drain(using: str, publisher, batch_size: int, max_batches: int) -> int:
    published = 0
    for _ in range(max_batches):
        result = relay_dispatch_batch(using=using, publisher=publisher, batch_size=batch_size)
        published += result.published
        if result.claimed < batch_size:
            break
    return published


def _helper_drain(using: str, publisher, batch_size: int, max_batches: int, counts: list[int], index: int) -> None:
    try:
        counts[index] = _drain(using, publisher, batch_size, max_batches)
    except Exception:  # what it did not publish stays claimable for the next drain
        log.warning("relay.drainer_failed", database=using, exc_info=True)
    finally:
        publisher.close()
        connections.close_all()


def _uuid_text(value) -> str | None:
    """A UUID column as canonical text: as MariaDB's native UUID reads, or from SQLite's 32 hex digits."""
    if value is None or (isinstance(value, str) and len(value) == 36):
        return value
    return str(sql_uuid(value))


def publish_traced(publisher, rows: list[Claimed]):
    """Publish ``rows`` in one batch, each in a producer span whose parent is the span that wrote the row.

    A message carries its publish span's traceparent, so the consumer's span is
    that span's child. A span ends when the batch's confirms are in; one the
    broker refused, or a batch that failed, has an error status. Raises PublishError.
    """
    spans = [
        tracer.start_span(
            f"publish {row.exchange}", context=traceparent_context(row.traceparent), kind=SpanKind.PRODUCER
        )
        for row in rows
    ]
    try:
        result = publisher.publish_batch(
            [outgoing(row, span.get_span_context()) for row, span in zip(rows, spans, strict=True)]
        )
    except BaseException as exc:
        for span in spans:
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.end()
        raise
    for row, span in zip(rows, spans, strict=True):
        if span.is_recording():
            span.set_attributes(
                {
                    "messaging.system": "rabbitmq",
                    "messaging.operation.name": "publish",
                    "messaging.destination.name": row.exchange,
                    "messaging.rabbitmq.destination.routing_key": row.routing_key,
                    "messaging.message.id": str(row.message_id),
                }
            )
            reason = result.failed.get(str(row.message_id))
            if reason is not None:
                span.set_status(Status(StatusCode.ERROR, reason))
        span.end()
    return result


def outgoing(row: Claimed, span: SpanContext | None = None) -> Outgoing:
    """The broker message for an outbox row: its stored body, its producer's signature, its trace and saga.

    ``traceparent`` names ``span`` (the publish span), else the span that wrote the
    row; ``trace_id`` is the trace's id, as the seed's consumers read it. Neither
    header is signed: a wrong one misplaces a trace, never a message's effect.
    """
    traceparent = row.traceparent
    if span is not None and span.is_valid:
        traceparent = f"00-{span.trace_id:032x}-{span.span_id:016x}-{span.trace_flags:02x}"
    headers = {TRACE_ID_HEADER: trace_id_of(traceparent), RETRY_COUNT: 0, SCHEMA_VERSION_HEADER: 1}
    if traceparent:
        headers[TRACEPARENT_HEADER] = traceparent
    if row.signature:
        # A row written before messages were signed goes out unsigned (see MESSAGING_ACCEPT_UNSIGNED).
        headers[PRODUCER_HEADER] = CONTRACTS[row.routing_key].producer
        headers[SIGNATURE_HEADER] = row.signature
    if row.saga_id:
        headers[SAGA_ID_HEADER] = str(row.saga_id)
    return Outgoing(
        message_id=str(row.message_id),
        exchange=row.exchange,
        routing_key=row.routing_key,
        body=row.body.encode(),
        headers=headers,
        message_type=row.message_type,
    )


def _record_failure(using: str, row: Claimed, reason: str) -> None:
    PUBLISH_FAILURES.labels(using).inc()
    log.error(
        "outbox.publish_failed",
        database=using,
        message_id=str(row.message_id),
        routing_key=row.routing_key,
        reason=reason,
        attempts=row.publish_attempts + 1,
    )
    OutboxMessage.objects.using(using).filter(pk=row.pk).update(
        publish_attempts=F("publish_attempts") + 1,
        retry_at=timezone.now() + FAILED_ROW_BACKOFF,
        last_error=reason[:255],
    )
