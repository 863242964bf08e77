"""Message contracts on the wire: seed-compatible JSON bodies, ids and primitives only.

Each contract knows its exchange and routing key. Bodies are parsed strictly for
the fields a contract needs and ignore any other field, so a newer producer can
add fields without breaking an older consumer. The schema version travels in the
``x-schema-version`` header so the seed's body shapes stay untouched.
"""

import dataclasses
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self

from django.conf import settings

SCHEMA_VERSION = 1

COMMANDS_EXCHANGE = "saga.commands"
EVENTS_EXCHANGE = "saga.events"
RETRY_EXCHANGE = "saga.retry"


class MalformedMessage(ValueError):
    """A body that can never be handled: wrong JSON, missing or ill-typed field."""


# Ids are 64-bit columns; quantities 32-bit (the logs' PositiveIntegerField). Amounts are stored
# with 12 digits, 2 of them cents. A value beyond these is refused here, not by the database,
# where it would fail the handler's transaction on every retry.
MAX_ID = 2**63 - 1
MAX_QUANTITY = 2**31 - 1
MAX_AMOUNT = Decimal(10) ** 10
CENT = Decimal("0.01")
# Distinct products in one order (the API's limit).
MAX_LINES = 50


def _uuid(body: dict, name: str) -> uuid.UUID:
    value = body.get(name)
    if not isinstance(value, str):
        _fail(name)
    try:
        return uuid.UUID(value)
    except ValueError:
        _fail(name)


def _int(body: dict, name: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        _fail(name)
    return value


def _decimal(body: dict, name: str) -> Decimal:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        _fail(name)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        _fail(name)
    if not amount.is_finite() or not CENT <= amount < MAX_AMOUNT:
        _fail(name)
    return amount


def _bool(body: dict, name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        _fail(name)
    return value


def _reason(body: dict) -> str:
    value = body.get("reason", "")
    if not isinstance(value, str) or not _encodable(value):
        _fail("reason")
    return value


def _encodable(text: str) -> bool:
    # JSON can carry a lone surrogate ("\ud800"), which no database column can store.
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _fail(name: str):
    raise MalformedMessage(f"field {name!r} is missing or has the wrong type")


# Left out of a body when empty or false, so a message the seed knows keeps the seed's shape.
_OMITTED_WHEN_EMPTY = ("reason", "currency", "price_override")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Contract:
    exchange: ClassVar[str]
    routing_key: ClassVar[str]
    # The one app that may send this message and the one that acts on it: the route it is signed for.
    producer: ClassVar[str]
    consumer: ClassVar[str]

    saga_id: uuid.UUID
    order_id: int

    def to_body(self) -> dict[str, Any]:
        body = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, uuid.UUID):
                value = str(value)
            elif isinstance(value, Decimal):
                # The seed's services read amount as a JSON number; a total we add is a decimal string.
                value = float(value) if field.name == "amount" else str(value)
            if value is None or (field.name in _OMITTED_WHEN_EMPTY and not value):
                continue
            body[field.name] = value
        return body

    @classmethod
    def from_body(cls, body: Any) -> Self:
        if not isinstance(body, dict):
            raise MalformedMessage("body is not a JSON object")
        return cls(**cls._parse(body))

    @classmethod
    def _parse(cls, body: dict) -> dict[str, Any]:
        return {"saga_id": _uuid(body, "saga_id"), "order_id": _int(body, "order_id")}


@dataclasses.dataclass(frozen=True, kw_only=True)
class StockLine:
    """One product of an order and its units; a reservation's answer adds the catalog's unit price."""

    product_id: int
    quantity: int
    unit_price: Decimal | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"product_id": self.product_id, "quantity": self.quantity}
        if self.unit_price is not None:
            # A string: a price is summed and compared to the cent, which a float cannot promise.
            body["unit_price"] = str(self.unit_price)
        return body


def _lines(body: dict, *, min_quantity: int, min_lines: int) -> tuple[StockLine, ...]:
    """The body's ``lines``, or its single ``product_id`` and ``quantity`` (the seed's one-product shape)."""
    raw = body.get("lines")
    if raw is None and "product_id" in body:
        raw = [{"product_id": body.get("product_id"), "quantity": body.get("quantity")}]
    if not isinstance(raw, list) or not min_lines <= len(raw) <= MAX_LINES:
        _fail("lines")
    lines = []
    for item in raw:
        if not isinstance(item, dict):
            _fail("lines")
        unit_price = None if item.get("unit_price") is None else _decimal(item, "unit_price")
        lines.append(
            StockLine(
                product_id=_int(item, "product_id"),
                quantity=_int(item, "quantity", minimum=min_quantity, maximum=MAX_QUANTITY),
                unit_price=unit_price,
            )
        )
    if len({line.product_id for line in lines}) != len(lines):
        raise MalformedMessage("field 'lines' names a product twice")
    return tuple(lines)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _StockMessage(Contract):
    """Stock of one order, line by line: 1 to MAX_LINES distinct products.

    A one-line message also carries the seed's top-level ``product_id`` and
    ``quantity``, so a consumer of the version before lines still reads it.
    """

    producer = "orders"
    consumer = "inventory"
    # A command moves at least one unit of at least one product; a result may report none (nothing to release).
    min_quantity: ClassVar[int] = 1
    min_lines: ClassVar[int] = 1

    lines: tuple[StockLine, ...]

    def to_body(self) -> dict[str, Any]:
        body = super().to_body()
        body["lines"] = [line.to_body() for line in self.lines]
        if len(self.lines) == 1:
            body["product_id"], body["quantity"] = self.lines[0].product_id, self.lines[0].quantity
        return body

    @classmethod
    def _parse(cls, body: dict) -> dict[str, Any]:
        return {**super()._parse(body), "lines": _lines(body, min_quantity=cls.min_quantity, min_lines=cls.min_lines)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReserveInventory(_StockMessage):
    """Reserve every line or none, at the catalog's prices.

    ``expected_total`` is the total the customer agreed to: a catalog total
    that differs refuses the reservation. ``price_override`` says that staff
    set the order's total, so unpriced products may be reserved too.
    """

    exchange = COMMANDS_EXCHANGE
    routing_key = "inventory.reserve"

    expected_total: Decimal | None = None
    price_override: bool = False

    @classmethod
    def _parse(cls, body: dict) -> dict[str, Any]:
        parsed = super()._parse(body)
        # What takes stock keeps to the API's limits; the commands that give it back move only what was
        # reserved, so a limit lowered since cannot strand them.
        if len(parsed["lines"]) > settings.ORDER_MAX_LINES:
            raise MalformedMessage(f"field 'lines' has more than the API's {settings.ORDER_MAX_LINES} lines")
        if any(line.quantity > settings.ORDER_MAX_QUANTITY for line in parsed["lines"]):
            raise MalformedMessage(f"field 'lines' asks more than the API's {settings.ORDER_MAX_QUANTITY} units a line")
        if body.get("expected_total") is not None:
            parsed["expected_total"] = _decimal(body, "expected_total")
        if "price_override" in body:
            parsed["price_override"] = _bool(body, "price_override")
        return parsed


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReleaseInventory(_StockMessage):
    exchange = COMMANDS_EXCHANGE
    routing_key = "inventory.release"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommitInventory(_StockMessage):
    """The order completed: its reserved units become sold."""

    exchange = COMMANDS_EXCHANGE
    routing_key = "inventory.commit"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RestockInventory(_StockMessage):
    """A cancelled order's units go back on sale: sold (or, not yet sold, reserved) -> available."""

    exchange = COMMANDS_EXCHANGE
    routing_key = "inventory.restock"


@dataclasses.dataclass(frozen=True, kw_only=True)
class _StockResult(_StockMessage):
    """What was moved, line by line (no line when nothing was), whether, and why not."""

    producer = "inventory"
    consumer = "orders"
    min_quantity = 0
    min_lines = 0

    success: bool
    reason: str = ""

    @classmethod
    def _parse(cls, body: dict) -> dict[str, Any]:
        return {**super()._parse(body), "success": _bool(body, "success"), "reason": _reason(body)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class InventoryReserved(_StockResult):
    """A reservation's answer; when it succeeded, each line carries its unit price and ``currency`` is set."""

    exchange = EVENTS_EXCHANGE
    routing_key = "inventory.reserved"

    currency: str = ""

    @classmethod
    def _parse(cls, body: dict) -> dict[str, Any]:
        parsed = super()._parse(body)
        currency = body.get("currency", "")
        if not isinstance(currency, str) or not (currency == "" or (len(currency) == 3 and currency.isalpha())):
            _fail("currency")
        parsed["currency"] = currency
        return parsed


@dataclasses.dataclass(frozen=True, kw_only=True)
class InventoryReleased(_StockResult):
    exchange = EVENTS_EXCHANGE
    routing_key = "inventory.released"


@dataclasses.dataclass(frozen=True, kw_only=True)
class InventoryCommitted(_StockResult):
    exchange = EVENTS_EXCHANGE
    routing_key = "inventory.committed"


@dataclasses.dataclass(frozen=True, kw_only=True)
class InventoryRestocked(_StockResult):
    exchange = EVENTS_EXCHANGE
    routing_key = "inventory.restocked"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProcessPayment(Contract):
    exchange = COMMANDS_EXCHANGE
    routing_key = "payment.process"
    producer = "orders"
    consumer = "payments"

    amount: Decimal
    # The customer the order belongs to, so the payment can be shown to them alone (absent before customers).
    user_id: int | None = None

    @classmethod
    def _parse(cls, body: dict) -> dict[str, Any]:
        parsed = {**super()._parse(body), "amount": _decimal(body, "amount")}
        if body.get("user_id") is not None:
            parsed["user_id"] = _int(body, "user_id")
        return parsed


@dataclasses.dataclass(frozen=True, kw_only=True)
class RefundPayment(ProcessPayment):
    """Give back what the order was charged; refuses any later charge for it.

    ``payment_saga_id`` names the saga that charged (a cancellation refunds its
    placement's payment); absent, it is ``saga_id`` (the version before it).
    """

    routing_key = "payment.refund"

    payment_saga_id: uuid.UUID | None = None

    @classmethod
    def _parse(cls, body: dict) -> dict[str, Any]:
        parsed = super()._parse(body)
        if body.get("payment_saga_id") is not None:
            parsed["payment_saga_id"] = _uuid(body, "payment_saga_id")
        return parsed

    @property
    def charged_by(self) -> uuid.UUID:
        """The saga whose payment this refunds."""
        return self.payment_saga_id or self.saga_id


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaymentProcessed(Contract):
    exchange = EVENTS_EXCHANGE
    routing_key = "payment.processed"
    producer = "payments"
    consumer = "orders"

    transaction_id: str
    success: bool
    reason: str = ""

    @classmethod
    def _parse(cls, body: dict) -> dict[str, Any]:
        transaction_id = body.get("transaction_id", "")
        if not isinstance(transaction_id, str) or not _encodable(transaction_id):
            _fail("transaction_id")
        return {
            **super()._parse(body),
            "transaction_id": transaction_id,
            "success": _bool(body, "success"),
            "reason": _reason(body),
        }


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaymentRefunded(PaymentProcessed):
    """``transaction_id`` is the refund's (empty when nothing was charged)."""

    routing_key = "payment.refunded"


CONTRACTS: dict[str, type[Contract]] = {
    contract.routing_key: contract
    for contract in (
        ReserveInventory,
        ReleaseInventory,
        CommitInventory,
        RestockInventory,
        InventoryReserved,
        InventoryReleased,
        InventoryCommitted,
        InventoryRestocked,
        ProcessPayment,
        RefundPayment,
        PaymentProcessed,
        PaymentRefunded,
    )
}
