"""Who sent a message: an HMAC for each route (producing app -> consuming app), made where the row is written.

The producing process signs a message when it writes the outbox row, in the
transaction that writes it; the signature is stored with the row and travels in
the message's headers. The relay only carries it and holds no key, so neither
it nor anyone else on the broker can make a message an app would act on. Each
route has keys of its own: inventory, which verifies orders' commands to it,
cannot sign orders' commands to payments.

The signature covers the producer, the message id (a replay under a fresh id
fails), the routing key and the body as canonical JSON (sorted keys, no
spaces): MySQL 8 rewrites the JSON it stores, so the meaning, not the bytes,
is what is signed.
"""

import hashlib
import hmac
import json
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.messaging.contracts import CONTRACTS, Contract

PRODUCER_HEADER = "x-producer"
SIGNATURE_HEADER = "x-signature"
SCHEME = "v1"


class SigningKeyMissing(ImproperlyConfigured):
    """This process holds no key for the route it would sign a message for."""


class Untrusted(Exception):
    """A message whose producing app is not shown by its signature; ``kind`` labels the metric."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind


def message_sign(*, contract: type[Contract], message_id: uuid.UUID | str, body: dict[str, Any]) -> str:
    """The ``x-signature`` value of a message of ``contract`` with this id and body, by the route's first key.

    Raises SigningKeyMissing when this process holds no key for the route.
    """
    keys = settings.MESSAGE_SIGNING_KEYS.get((contract.producer, contract.consumer))
    if not keys:
        raise SigningKeyMissing(
            f"no signing key for {contract.producer} -> {contract.consumer}: set "
            f"SIGNING_KEYS_{contract.producer.upper()}_{contract.consumer.upper()} for this process"
        )
    key_id, secret = keys[0]
    return f"{key_id}:{_digest(secret, contract.producer, str(message_id), contract.routing_key, body)}"


def message_verify(*, routing_key: str, message_id: uuid.UUID, body: Any, headers: dict) -> bool:
    """Check that the app the routing key belongs to signed this message; return whether it was signed at all.

    An unsigned message passes only with MESSAGING_ACCEPT_UNSIGNED (an upgrade
    from a version that did not sign), and False says so. Raises Untrusted.
    """
    contract = CONTRACTS[routing_key]
    producer, signature = headers.get(PRODUCER_HEADER), headers.get(SIGNATURE_HEADER)
    if producer is None and signature is None and settings.MESSAGING_ACCEPT_UNSIGNED:
        return False
    if producer != contract.producer:
        raise Untrusted("wrong_producer", f"sent as {producer!r}, but only {contract.producer} sends {routing_key}")
    if not isinstance(signature, str) or ":" not in signature:
        raise Untrusted("unsigned", f"{routing_key} carries no signature")
    keys = dict(settings.MESSAGE_SIGNING_KEYS.get((contract.producer, contract.consumer), ()))
    key_id, _, digest = signature.rpartition(":")
    if not keys:
        raise Untrusted("no_key", f"this process holds no key for {contract.producer} -> {contract.consumer}")
    if key_id not in keys:
        raise Untrusted("unknown_key", f"signed with key {key_id!r}, not a key of {contract.producer}")
    expected = _digest(keys[key_id], contract.producer, str(message_id), routing_key, body)
    if not hmac.compare_digest(expected, digest):
        raise Untrusted("bad_signature", f"the signature of {contract.producer}'s key {key_id!r} does not match")
    return True


def signed_headers(*, contract: type[Contract], message_id: uuid.UUID | str, body: dict[str, Any]) -> dict[str, str]:
    """The producer and signature headers of a message, as the producing app sends them."""
    return {
        PRODUCER_HEADER: contract.producer,
        SIGNATURE_HEADER: message_sign(contract=contract, message_id=message_id, body=body),
    }


def _digest(secret: str, producer: str, message_id: str, routing_key: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    signed = f"{SCHEME}\n{producer}\n{message_id}\n{routing_key}\n{canonical}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
