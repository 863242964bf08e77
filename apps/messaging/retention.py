"""Retention: dispatched outbox rows and old inbox rows are deleted, a bounded batch at a time.

An outbox row is only needed until the broker confirmed it; after that it is
history. An inbox row is what recognises a second delivery of a message, so it
is kept for at least ``INBOX_DEDUP_WINDOW``, however short the retention asked
for: a redelivery, a relay's re-publish or a DLQ redrive inside that window is
still dropped as a duplicate. Undispatched outbox rows are never touched.

Each batch is one ``SELECT`` of primary keys and one ``DELETE ... WHERE pk IN``
in autocommit, so no statement scans or locks more than ``batch_size`` rows and
the relays and consumers writing the same tables wait on nothing long.
"""

import dataclasses
import re
from collections.abc import Callable
from datetime import timedelta

import structlog
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from apps.common.progress import OnProgress, no_progress
from apps.messaging.models import InboxMessage, OutboxMessage

log = structlog.get_logger("messaging.retention")

AGE_PATTERN = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
AGE_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class InvalidAge(ValueError):
    """Not an age like 7d, 12h, 30m or 3600s."""


def parse_age(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m`` or ``3600s`` as a timedelta.

    Raises InvalidAge for anything else (no unit, a fraction, a negative number).
    """
    match = AGE_PATTERN.match(str(text))
    if match is None:
        raise InvalidAge(f"{text!r} is not an age: use a whole number and d, h, m or s, e.g. 7d, 12h, 30m, 3600s")
    amount, unit = match.groups()
    return timedelta(**{AGE_UNITS[unit]: int(amount)})


def format_age(age: timedelta) -> str:
    """The inverse of ``parse_age``: the largest unit that divides ``age`` exactly."""
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclasses.dataclass(frozen=True)
class PurgeResult:
    outbox: int
    inbox: int
    inbox_kept_for: timedelta


def messages_purge(
    *,
    using: str,
    older_than: timedelta,
    batch_size: int,
    dedup_window: timedelta | None = None,
    on_progress: OnProgress = no_progress,
) -> PurgeResult:
    """Delete, in database ``using``, outbox rows dispatched before ``older_than`` ago and
    inbox rows received before ``max(older_than, dedup_window)`` ago, ``batch_size`` rows per statement.

    ``dedup_window`` defaults to ``settings.INBOX_DEDUP_WINDOW``. ``on_progress`` hears the rows deleted
    so far after each batch (the total is not known: counting them would scan what the batches avoid).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    dedup_window = parse_age(settings.INBOX_DEDUP_WINDOW) if dedup_window is None else dedup_window
    inbox_age = max(older_than, dedup_window)
    now = timezone.now()
    outbox = _delete_in_batches(
        OutboxMessage.objects.using(using).filter(dispatched_at__lt=now - older_than),
        order_by="dispatched_at",
        batch_size=batch_size,
        on_deleted=lambda deleted: on_progress(deleted, None),
    )
    inbox = _delete_in_batches(
        InboxMessage.objects.using(using).filter(received_at__lt=now - inbox_age),
        order_by="received_at",
        batch_size=batch_size,
        on_deleted=lambda deleted: on_progress(outbox + deleted, None),
    )
    log.info("messages.purged", database=using, outbox=outbox, inbox=inbox, inbox_kept_for=format_age(inbox_age))
    return PurgeResult(outbox=outbox, inbox=inbox, inbox_kept_for=inbox_age)


def messages_purge_all(
    *, older_than: timedelta, batch_size: int, on_progress: OnProgress = no_progress
) -> dict[str, PurgeResult]:
    """``messages_purge`` in every domain database; the results by alias. ``on_progress`` hears the rows
    deleted so far in all of them."""
    results: dict[str, PurgeResult] = {}
    for alias in settings.DOMAIN_DATABASES:
        before = sum(result.outbox + result.inbox for result in results.values())
        results[alias] = messages_purge(
            using=alias,
            older_than=older_than,
            batch_size=batch_size,
            on_progress=lambda deleted, total, before=before: on_progress(before + deleted, total),
        )
    return results


def _delete_in_batches(rows: QuerySet, *, order_by: str, batch_size: int, on_deleted: Callable[[int], None]) -> int:
    # The cutoff is fixed before the first batch, so the loop ends: rows that
    # become old while it runs wait for the next run.
    deleted = 0
    while True:
        batch = list(rows.order_by(order_by).values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        count, _ = rows.filter(pk__in=batch).delete()
        deleted += count
        on_deleted(deleted)
        if len(batch) < batch_size:
            return deleted
