"""A simulated payment gateway: PAYMENT_FAILURE_RATE of the charges and PAYMENT_REFUND_FAILURE_RATE of the refunds
are declined."""

import dataclasses
import random
import uuid
from decimal import Decimal


@dataclasses.dataclass(frozen=True)
class Charge:
    success: bool
    transaction_id: str
    reason: str = ""


def gateway_charge(*, order_id: int, amount: Decimal, failure_rate: float) -> Charge:
    """Charge ``amount`` for ``order_id``; declined with probability ``failure_rate`` (0.0 to 1.0)."""
    transaction_id = f"txn_{uuid.uuid4().hex}"
    if random.random() < failure_rate:
        return Charge(False, transaction_id, "payment declined")
    return Charge(True, transaction_id)


def gateway_refund(*, transaction_id: str, amount: Decimal, failure_rate: float = 0.0) -> Charge:
    """Give back ``amount`` of the charge ``transaction_id``; declined with probability ``failure_rate``."""
    if random.random() < failure_rate:
        return Charge(False, "", "refund declined by the gateway")
    return Charge(True, f"rfd_{uuid.uuid4().hex}")
