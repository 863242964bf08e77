"""Publishing the outbox rows a process committed right after the commit, with the relay as the backstop.

A consumer (for its replies) or a web request (for an order's first command)
writes its rows to the outbox like any other writer, but each row carries
``retry_at`` a few seconds ahead (``OUTBOX_DISPATCH_GRACE``), which the relay's
claim skips. Right after the commit the process publishes those rows itself, on
its own confirming channel, waits for the broker's confirms and marks them
dispatched. Nothing about delivery changes:

- the row exists if and only if the state change committed (same transaction);
- a process that dies after the commit, or cannot reach the broker, leaves its
  rows undispatched: once the grace has passed the relay's sweep publishes them;
- a process that dies after publishing and before marking leaves rows the relay
  publishes a second time, which the receivers' inbox absorbs, as for a relay
  that dies between publish and mark.

Marking is not on the critical path, so a background thread of each process
marks the confirmed rows every ``OUTBOX_MARK_INTERVAL`` seconds, one UPDATE per
database for all of them, instead of one write transaction per commit.

What it saves is a relay hop per saga step: no nudge, no Celery task, no claim
query, and the reply is on its way a millisecond after the commit.
"""

import atexit
import contextlib
import contextvars
import json
import threading
import time
import uuid
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from apps.common.process import PerProcess
from apps.common.sql import sql_execute, sql_in, sql_param
from apps.common.tracing import trace_id_of
from apps.messaging.faults import CONSUMER_AFTER_DISPATCH, crash_point
from apps.messaging.metrics import PUBLISH_DURATION, PUBLISH_ERRORS, PUBLISH_FAILURES
from apps.messaging.models import OutboxMessage
from apps.messaging.publisher import PublishError
from apps.messaging.relay import Claimed, note_published, publish_traced

log = structlog.get_logger("messaging.dispatch")


class AfterCommitDispatch:
    """Outbox rows this process committed on ``databases``, waiting to be published by it.

    After a failed publish it stands aside for ``OUTBOX_DISPATCH_GRACE`` seconds
    (rows written meanwhile go the relay's way at once), so an unreachable broker
    costs one failed attempt per grace, not one per commit.
    """

    def __init__(self, *, databases, publisher):
        self.databases = frozenset(databases)
        self.publisher = publisher
        self.pending: dict[str, list[dict]] = {}
        self._resume_at = 0.0

    def serves(self, using: str) -> bool:
        return using in self.databases and time.monotonic() >= self._resume_at

    def hold_back(self, rows: list[dict]) -> None:
        """Mark ``rows`` (about to be inserted) as this process's to publish: the relay skips them for the grace."""
        retry_at = timezone.now() + timedelta(seconds=settings.OUTBOX_DISPATCH_GRACE)
        for row in rows:
            row["retry_at"] = retry_at

    def committed(self, using: str, rows: list[dict]) -> None:
        """Called on commit with the rows that transaction wrote on ``using``."""
        self.pending.setdefault(using, []).extend(rows)

    def flush(self) -> int:
        """Publish the committed rows, mark the confirmed ones; return how many. Never raises.

        Whatever is not confirmed and marked here is left to the relay.
        """
        pending, self.pending = self.pending, {}
        return sum(self._flush(using, rows) for using, rows in pending.items())

    def _flush(self, using: str, rows: list[dict]) -> int:
        started = time.perf_counter()
        try:
            result = publish_traced(self.publisher, [_claimed(row) for row in rows])
        except PublishError as exc:
            self._resume_at = time.monotonic() + settings.OUTBOX_DISPATCH_GRACE
            PUBLISH_ERRORS.labels(using).inc()
            log.warning("outbox.dispatch_failed", database=using, rows=len(rows), error=str(exc))
            return 0
        PUBLISH_DURATION.labels(using).observe(time.perf_counter() - started)
        crash_point(CONSUMER_AFTER_DISPATCH)
        for message_id, reason in result.failed.items():
            PUBLISH_FAILURES.labels(using).inc()
            log.error("outbox.publish_failed", database=using, message_id=message_id, reason=reason)
        confirmed = [uuid.UUID(message_id) for message_id in result.confirmed]
        if confirmed:
            _marker().add(using, confirmed)
        note_published(
            log,
            using,
            published=len(confirmed),
            failed=len(result.failed),
            trace_ids=[trace_id_of(row["traceparent"]) for row in rows],
        )
        return len(confirmed)


class Marker:
    """Marks published rows dispatched from a thread of this process, in one UPDATE per database per round.

    A row confirmed but not yet marked when the process dies is published again by
    the relay after the grace, and absorbed by the receivers' inbox.
    """

    def __init__(self, interval: float):
        self.interval = interval
        self.lock = threading.Lock()
        self.pending: dict[str, list[uuid.UUID]] = {}
        threading.Thread(target=self._run, name="outbox-marker", daemon=True).start()
        atexit.register(self.mark_pending)

    def add(self, using: str, message_ids: list[uuid.UUID]) -> None:
        with self.lock:
            self.pending.setdefault(using, []).extend(message_ids)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            self.mark_pending()

    def mark_pending(self) -> None:
        """Mark every row confirmed so far (a stopping process calls it once more)."""
        with self.lock:
            pending, self.pending = self.pending, {}
        for using, message_ids in pending.items():
            try:
                connections[using].close_if_unusable_or_obsolete()
                _mark(using, message_ids)
            except DatabaseError as exc:
                # Published but not marked: the relay publishes them again after the grace (a duplicate).
                log.warning("outbox.mark_failed", database=using, rows=len(message_ids), error=str(exc))
                connections[using].close_if_unusable_or_obsolete()


# This process's marker; a forked child (gunicorn, Celery prefork) starts its own.
_marker = PerProcess(lambda: Marker(settings.OUTBOX_MARK_INTERVAL))


def mark_pending() -> None:
    """Mark now what this process has published and not marked yet (a consumer stopping calls it)."""
    marker = _marker.current()
    if marker is not None:
        marker.mark_pending()


def _mark(using: str, message_ids: list[uuid.UUID]) -> None:
    def param(field, value):
        return sql_param(using=using, model=OutboxMessage, field=field, value=value)

    sql_execute(
        using=using,
        sql=f"UPDATE messaging_outbox SET dispatched_at = %s WHERE message_id IN {sql_in(message_ids)}",  # noqa: S608 -- placeholders only
        params=[param("dispatched_at", timezone.now()), *(param("message_id", value) for value in message_ids)],
    )


def _claimed(row: dict) -> Claimed:
    # The body as the outbox stores it (JSONField's own encoding), so it is the bytes the relay would send.
    return Claimed(
        pk=0,
        message_id=row["message_id"],
        exchange=row["exchange"],
        routing_key=row["routing_key"],
        message_type=row["message_type"],
        body=json.dumps(row["payload"]),
        traceparent=row["traceparent"],
        saga_id=row["saga_id"],
        publish_attempts=0,
        signature=row["signature"],
    )


_current: contextvars.ContextVar[AfterCommitDispatch | None] = contextvars.ContextVar("dispatch", default=None)


def dispatch_for(using: str) -> AfterCommitDispatch | None:
    """The dispatch that publishes rows written on ``using`` in this context, if one is set and serving."""
    dispatch = _current.get()
    return dispatch if dispatch is not None and dispatch.serves(using) else None


@contextlib.contextmanager
def dispatching_after_commit(dispatch: AfterCommitDispatch | None):
    """Within the block, outbox rows written on the dispatch's databases are left to it (None: to the relay)."""
    token = _current.set(dispatch)
    try:
        yield dispatch
    finally:
        _current.reset(token)
