"""Writing to the outbox: the only way a domain app sends a message."""

import contextlib
import contextvars
import uuid
from functools import partial

from django.db import transaction

from apps.common.sql import sql_insert, sql_insert_many
from apps.common.tracing import traceparent_current
from apps.messaging.contracts import Contract
from apps.messaging.dispatch import dispatch_for
from apps.messaging.models import OutboxMessage
from apps.messaging.nudge import relay_kick
from apps.messaging.signing import message_sign


class OutboxOutsideTransaction(RuntimeError):
    """The outbox row would commit apart from the state change it announces."""


def outbox_enqueue(*, using: str, message: Contract) -> uuid.UUID:
    """Add ``message`` to the outbox of database ``using``; return the row's message_id.

    Must run inside ``transaction.atomic(using=using)``, so the message exists if
    and only if the state change commits. After the commit the relay is nudged,
    or, in a consumer or a web request, that process publishes the row itself
    (apps.messaging.dispatch).

    The row carries the producing app's signature (apps.messaging.signing) and
    the traceparent of the current span, the one that writes it: the message's
    publish and its handling continue that trace (apps.common.tracing).

    Raises OutboxOutsideTransaction when called outside such a transaction, and
    SigningKeyMissing when this process holds no key for the message's route.
    """
    if not transaction.get_connection(using).in_atomic_block:
        raise OutboxOutsideTransaction(f"outbox_enqueue needs an open transaction on {using!r}")
    message_id = uuid.uuid4()
    body = message.to_body()
    row = {
        "message_id": message_id,
        "exchange": message.exchange,
        "routing_key": message.routing_key,
        "message_type": type(message).__name__,
        "payload": body,
        "traceparent": traceparent_current(),
        "saga_id": message.saga_id,
        "signature": message_sign(contract=type(message), message_id=message_id, body=body),
    }
    batch = _batch.get()
    if batch is not None and batch[0] == using:
        batch[1].append(row)
        return message_id
    _insert(using, [row])
    return message_id


def _insert(using: str, rows: list[dict]) -> None:
    dispatch = dispatch_for(using)
    if dispatch is not None:
        dispatch.hold_back(rows)
        after_commit = partial(dispatch.committed, using, rows)
    else:
        after_commit = partial(relay_kick, using)
    if len(rows) == 1:
        sql_insert(using=using, model=OutboxMessage, values=rows[0])
    else:
        sql_insert_many(using=using, model=OutboxMessage, rows=rows)
    transaction.on_commit(after_commit, using=using)


_batch: contextvars.ContextVar[tuple[str, list[dict]] | None] = contextvars.ContextVar("outbox_batch", default=None)


@contextlib.contextmanager
def outbox_batched(*, using: str):
    """Gather the outbox rows ``using`` gets inside the block and insert them in one statement at its end.

    For a consumer handling a batch of messages in one transaction: one round
    trip for all the replies instead of one each. The block must run inside
    that transaction; if it raises, nothing is inserted (the transaction is
    rolled back anyway).
    """
    rows: list[dict] = []
    token = _batch.set((using, rows))
    try:
        yield
    finally:
        _batch.reset(token)
    if rows:
        _insert(using, rows)


def outbox_has_pending(*, using: str, saga_id) -> bool:
    """Whether a message for this saga waits in the outbox of ``using``."""
    return OutboxMessage.objects.using(using).filter(saga_id=saga_id, dispatched_at__isnull=True).exists()
