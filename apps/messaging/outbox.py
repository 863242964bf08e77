"""Writing to the outbox: the only way a domain app sends a message."""

import uuid
from functools import partial

from django.db import transaction

from apps.common.sql import sql_insert
from apps.common.trace import current_trace_id
from apps.messaging.contracts import Contract
from apps.messaging.models import OutboxMessage
from apps.messaging.relay import relay_kick


class OutboxOutsideTransaction(RuntimeError):
    """The outbox row would commit apart from the state change it announces."""


def outbox_enqueue(*, using: str, message: Contract, trace_id: str = "") -> uuid.UUID:
    """Add ``message`` to the outbox of database ``using``; return the row's message_id.

    Must run inside ``transaction.atomic(using=using)``, so the message exists if
    and only if the state change commits. After the commit the relay is nudged.

    Raises OutboxOutsideTransaction when called outside such a transaction.
    """
    if not transaction.get_connection(using).in_atomic_block:
        raise OutboxOutsideTransaction(f"outbox_enqueue needs an open transaction on {using!r}")
    message_id = uuid.uuid4()
    sql_insert(
        using=using,
        model=OutboxMessage,
        values={
            "message_id": message_id,
            "exchange": message.exchange,
            "routing_key": message.routing_key,
            "message_type": type(message).__name__,
            "payload": message.to_body(),
            "trace_id": trace_id or current_trace_id(),
            "saga_id": message.saga_id,
        },
    )
    transaction.on_commit(partial(relay_kick, using), using=using)
    return message_id


def outbox_has_pending(*, using: str, saga_id) -> bool:
    """Whether a message for this saga waits in the outbox of ``using``."""
    return OutboxMessage.objects.using(using).filter(saga_id=saga_id, dispatched_at__isnull=True).exists()
