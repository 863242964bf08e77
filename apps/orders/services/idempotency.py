"""Idempotency-Key: the first answer to a request is stored with a fingerprint of it, and a retry gets it back.

The key's unique constraint makes the database decide which of several
concurrent twins acts: the others wait on its row lock, then replay its answer.
One key, one request: the same key with another body (or for another endpoint)
is refused.
"""

import hashlib
import json
from collections.abc import Callable

import structlog
from django.db import IntegrityError, transaction

from apps.orders.models import Order, OrderIdempotencyKey, SagaState
from apps.orders.store import DATABASE

log = structlog.get_logger("orders.idempotency")


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was first used for a different request."""


def idempotency_fingerprint(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(*, key: str | None, request: dict, perform: Callable[[], SagaState]) -> SagaState:
    """Run ``perform`` (which returns a saga carrying ``order`` and ``response_status``) once per ``key``.

    Without a key it simply runs, in a durable transaction on the orders
    database. With one, the key is stored in the same transaction; a replay
    returns the first answer's saga with ``replayed`` set.

    Raises IdempotencyKeyReused, and whatever ``perform`` raises.
    """
    if key is None:
        with transaction.atomic(using=DATABASE, durable=True):
            return _first(perform())
    fingerprint = idempotency_fingerprint(request)
    try:
        with transaction.atomic(using=DATABASE, durable=True):
            # First, so a twin blocks on the key before doing any work.
            stored = OrderIdempotencyKey.objects.create(key=key, fingerprint=fingerprint)
            saga = _first(perform())
            stored.order_id, stored.saga_id, stored.response_status = saga.order_id, saga.saga_id, saga.response_status
            stored.save(update_fields=["order_id", "saga_id", "response_status"])
            return saga
    except IntegrityError:
        # The key is taken: a twin committed it (we waited for it on its row lock).
        pass
    return _replay(key=key, fingerprint=fingerprint)


def _first(saga: SagaState) -> SagaState:
    saga.replayed = getattr(saga, "replayed", False)
    return saga


def _replay(*, key: str, fingerprint: str) -> SagaState:
    stored = OrderIdempotencyKey.objects.get(key=key)
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused(key)
    saga = SagaState.objects.get(saga_id=stored.saga_id)
    saga.order = Order.objects.get(pk=saga.order_id)
    saga.replayed, saga.response_status = True, stored.response_status
    log.info("request.replayed", saga_id=str(saga.saga_id), order_id=saga.order_id)
    return saga
