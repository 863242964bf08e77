"""The catalog fixes an order's prices: the reservation's answer carries each line's unit price.

The inventory app owns the catalog, so orders learns a price the moment the
stock is taken at it, in the same inventory transaction: no price can change
between the two. The total it makes is what the payment charges.
"""

from decimal import Decimal

from apps.messaging.consumer import Unprocessable
from apps.messaging.contracts import InventoryReserved
from apps.orders.models import Order, OrderLine
from apps.orders.store import store_order_lines, store_save_prices

CENT = Decimal("0.01")


def order_lines_loaded(order: Order) -> list[OrderLine]:
    """The order's lines, loaded once onto ``order.stock_lines`` (what the stock commands are built from)."""
    if not hasattr(order, "stock_lines"):
        order.stock_lines = store_order_lines(order_id=order.pk)
    return order.stock_lines


def order_fix_prices(*, order: Order, reply: InventoryReserved) -> None:
    """Write the reservation's unit prices onto the order's lines, and (unless staff set it) the order's total.

    Raises Unprocessable when the answer does not match the order's lines, or
    leaves a line without a price that the total needs: the message goes to the
    dead-letter queue and the saga's deadline undoes the reservation.
    """
    lines = order_lines_loaded(order)
    asked = sorted((line.product_id, line.quantity) for line in lines)
    if asked != sorted((line.product_id, line.quantity) for line in reply.lines):
        raise Unprocessable(f"the reservation of order {order.pk} does not match its lines")
    prices = {line.product_id: line.unit_price for line in reply.lines}
    for line in lines:
        line.unit_price = prices[line.product_id]
    if not order.price_overridden:
        if any(line.unit_price is None for line in lines):
            raise Unprocessable(f"the reservation of order {order.pk} left a line without a price")
        order.total_amount = sum((line.line_total for line in lines), Decimal("0.00")).quantize(CENT)
    order.currency = reply.currency
    store_save_prices(order=order, lines=lines)
