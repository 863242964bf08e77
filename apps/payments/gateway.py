"""A simulated payment gateway: PAYMENT_FAILURE_RATE of the charges are declined."""

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


def gateway_refund(*, transaction_id: str, amount: Decimal) -> Charge:
    """Give back ``amount`` of the charge ``transaction_id``; the simulated gateway always agrees."""
    return Charge(True, f"rfd_{uuid.uuid4().hex}")
