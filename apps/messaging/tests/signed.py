"""Messages as the producing app sends them: signed with its route's key (apps.messaging.signing)."""

import json
import uuid

from apps.messaging.consumer import Delivery
from apps.messaging.contracts import CONTRACTS
from apps.messaging.signing import signed_headers


def signature_headers(*, routing_key: str, body, message_id: str) -> dict[str, str]:
    """The headers the app that sends ``routing_key`` would put on ``body`` (a dict, or JSON bytes).

    Nothing for a body that is not JSON or a key no contract has: no app could have signed it.
    """
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    if routing_key not in CONTRACTS:
        return {}
    return signed_headers(contract=CONTRACTS[routing_key], message_id=message_id, body=body)


def signed_delivery(*, routing_key: str, body: dict, message_id: str | None = None, headers=None) -> Delivery:
    """A delivery of ``body`` under ``routing_key``, signed by the app that sends that key."""
    message_id = message_id or str(uuid.uuid4())
    return Delivery(
        body=json.dumps(body).encode(),
        routing_key=routing_key,
        message_id=message_id,
        headers={**(headers or {}), **signature_headers(routing_key=routing_key, body=body, message_id=message_id)},
    )
