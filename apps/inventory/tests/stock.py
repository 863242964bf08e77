"""Lines and decisions for the inventory tests: one product, priced at PRICE."""

from decimal import Decimal

from apps.inventory.models import DEFAULT_CURRENCY
from apps.inventory.services import StockDecision, StockLine
from apps.messaging import contracts

PRICE = Decimal("2.50")


def wire(product_id: int, quantity: int, unit_price: Decimal | None = None) -> tuple[contracts.StockLine, ...]:
    """A message's one line."""
    return (contracts.StockLine(product_id=product_id, quantity=quantity, unit_price=unit_price),)


def decided(success: bool, product_id: int, quantity: int, reason: str = "", *, priced: bool = False) -> StockDecision:
    """A one-line decision; ``priced`` is a reservation's, at PRICE."""
    if priced:
        return StockDecision(success, (StockLine(product_id, quantity, PRICE),), reason, DEFAULT_CURRENCY)
    return StockDecision(success, (StockLine(product_id, quantity),), reason)
