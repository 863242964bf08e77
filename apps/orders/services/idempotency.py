"""Idempotency-Key: the first answer to a request is stored with a fingerprint of it, and a retry gets it back.

A key is the user's own: the unique (user, key) makes the database decide which
of several concurrent twins acts (the others wait on its row lock, then replay
its answer), and another user sending the same key is another key. One key, one
request: the same key with another body (or for another endpoint) is refused.
Keys expire after IDEMPOTENCY_KEY_TTL seconds: an expired key is forgotten and
may place a new order, and ``idempotency_keys_purge`` deletes them.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.orders.models import Order, OrderIdempotencyKey, SagaState
from apps.orders.store import DATABASE

log = structlog.get_logger("orders.idempotency")


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was first used for a different request."""


def idempotency_fingerprint(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(*, key: str | None, user_id: int, request: dict, perform: Callable[[], SagaState]) -> SagaState:
    """Run ``perform`` (which returns a saga carrying ``order`` and ``response_status``) once per ``user_id``'s ``key``.

    Without a key it simply runs, in a durable transaction on the orders
    database. With one, the key is stored in the same transaction; a replay
    returns the first answer's saga with ``replayed`` set.

    Raises IdempotencyKeyReused, and whatever ``perform`` raises.
    """
    if key is None:
        with transaction.atomic(using=DATABASE, durable=True):
            return _first(perform())
    fingerprint = idempotency_fingerprint(request)
    for _ in range(2):
        try:
            with transaction.atomic(using=DATABASE, durable=True):
                # First, so a twin blocks on the key before doing any work.
                stored = OrderIdempotencyKey.objects.create(user_id=user_id, key=key, fingerprint=fingerprint)
                saga = _first(perform())
                stored.order_id, stored.saga_id = saga.order_id, saga.saga_id
                stored.response_status = saga.response_status
                stored.save(update_fields=["order_id", "saga_id", "response_status"])
                return saga
        except IntegrityError:
            # The key is taken: a twin committed it (we waited for it on its row lock), or it expired.
            if not _forget_if_expired(user_id=user_id, key=key):
                break
    return _replay(user_id=user_id, key=key, fingerprint=fingerprint)


def _expired_before():
    return timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)


def _forget_if_expired(*, user_id: int, key: str) -> bool:
    with transaction.atomic(using=DATABASE, durable=True):
        stale = OrderIdempotencyKey.objects.filter(user_id=user_id, key=key, created_at__lt=_expired_before())
        return bool(stale.delete()[0])


def idempotency_keys_purge(*, limit: int = 10_000) -> int:
    """Delete up to ``limit`` expired keys; returns how many went."""
    with transaction.atomic(using=DATABASE, durable=True):
        expired = list(
            OrderIdempotencyKey.objects.filter(created_at__lt=_expired_before())
            .order_by("created_at")
            .values_list("pk", flat=True)[:limit]
        )
        return OrderIdempotencyKey.objects.filter(pk__in=expired).delete()[0]


def _first(saga: SagaState) -> SagaState:
    saga.replayed = getattr(saga, "replayed", False)
    return saga


def _replay(*, user_id: int, key: str, fingerprint: str) -> SagaState:
    stored = OrderIdempotencyKey.objects.get(user_id=user_id, key=key)
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused(key)
    saga = SagaState.objects.get(saga_id=stored.saga_id)
    saga.order = Order.objects.get(pk=saga.order_id)
    saga.replayed, saga.response_status = True, stored.response_status
    log.info("request.replayed", saga_id=str(saga.saga_id), order_id=saga.order_id)
    return saga
