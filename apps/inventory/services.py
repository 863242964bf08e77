"""Writes of the inventory app: stock levels, reservations, releases and commits.

Stock only ever moves through conditional UPDATEs (``available_qty >= n``), so
two concurrent reservations can never both take the last unit and contention
never reads as "insufficient stock". Reserve, release and commit of one order
all lock the product's row before reading each other's log, so they serialize.
Units move available -> reserved (reserve), reserved -> available (release) or
reserved -> sold (commit), and back to available when a confirmed order is
cancelled (restock: sold -> available, or reserved -> available if its commit
has not arrived yet, which the commit then refuses), so available + reserved +
sold only changes when stock is received or corrected by hand.
"""

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from typing import Literal, TypedDict, Unpack

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.common.sql import sql_execute, sql_in, sql_insert, sql_param, sql_rows, sql_savepoint
from apps.inventory.models import DEFAULT_CURRENCY, Inventory, InventoryAction, InventoryLog, InventoryOutcome

DATABASE = "inventory"


class ProductExists(Exception):
    """The product already has an inventory row."""


class ProductNotFound(Exception):
    """No inventory row for the product."""


class VersionConflict(Exception):
    """The row changed since the caller read it (its version moved on)."""


CENT = Decimal("0.01")


@dataclasses.dataclass(frozen=True)
class StockLine:
    """Units of one product; a reservation adds the catalog's unit price."""

    product_id: int
    quantity: int
    unit_price: Decimal | None = None


@dataclasses.dataclass(frozen=True)
class StockDecision:
    """What an order's command did, line by line (the units moved, or asked for when refused), and why not."""

    success: bool
    lines: tuple[StockLine, ...]
    reason: str = ""
    # A reservation's currency; empty otherwise.
    currency: str = ""


def inventory_create(
    *,
    product_id: int,
    available_qty: int,
    name: str = "",
    unit_price: Decimal | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> Inventory:
    """Add a product with its starting stock and catalog entry. Raises ProductExists."""
    try:
        with transaction.atomic(using=DATABASE, durable=True):
            return Inventory.objects.create(
                product_id=product_id, available_qty=available_qty, name=name, unit_price=unit_price, currency=currency
            )
    except IntegrityError:
        raise ProductExists(product_id) from None


class CatalogChanges(TypedDict, total=False):
    """Catalog fields to set; a field left out keeps its value (a None price withdraws the price)."""

    name: str
    unit_price: Decimal | None
    currency: str


def inventory_set_available(
    *, product_id: int, available_qty: int, expected_version: int | None = None, **catalog: Unpack[CatalogChanges]
) -> Inventory:
    """Set a product's available stock, optionally only if its version is ``expected_version``.

    The catalog fields given are set in the same UPDATE, so stock and catalog
    entry move together and share the version. Raises ProductNotFound,
    VersionConflict.
    """
    with transaction.atomic(using=DATABASE, durable=True):
        rows = Inventory.objects.filter(product_id=product_id)
        if expected_version is not None:
            rows = rows.filter(version=expected_version)
        updated = rows.update(
            available_qty=available_qty, version=F("version") + 1, updated_at=timezone.now(), **catalog
        )
        if not updated:
            if expected_version is not None and Inventory.objects.filter(product_id=product_id).exists():
                raise VersionConflict(product_id)
            raise ProductNotFound(product_id)
        return Inventory.objects.get(product_id=product_id)


@dataclasses.dataclass(frozen=True)
class CatalogSeed:
    product_id: int
    available_qty: int
    name: str
    unit_price: Decimal
    currency: str = DEFAULT_CURRENCY


@dataclasses.dataclass(frozen=True)
class CatalogSeedResult:
    created: list[int]
    completed: list[int]
    unchanged: list[int]


def inventory_seed_catalog(*, products: list[CatalogSeed]) -> CatalogSeedResult:
    """Make sure each product exists, without undoing anything that happened to it since.

    A missing product is created with its starting stock, name and price. An
    existing one keeps its stock, whatever it is now (orders move it), and only
    gets the name and the price it lacks (blank name, NULL price); a name or
    price someone set is theirs. So running it again changes nothing.
    """
    created, completed, unchanged = [], [], []
    with transaction.atomic(using=DATABASE, durable=True):
        for product in products:
            _, was_created = Inventory.objects.get_or_create(
                product_id=product.product_id,
                defaults={
                    "available_qty": product.available_qty,
                    "name": product.name,
                    "unit_price": product.unit_price,
                    "currency": product.currency,
                },
            )
            if was_created:
                created.append(product.product_id)
                continue
            rows = Inventory.objects.filter(product_id=product.product_id)
            # Conditional UPDATEs, not read-then-write: a concurrent edit of the name or price wins.
            # The version moves with every change a reader could see, so an ETag read before is stale.
            named = rows.filter(name="").update(name=product.name, version=F("version") + 1, updated_at=timezone.now())
            priced = rows.filter(unit_price__isnull=True).update(
                unit_price=product.unit_price,
                currency=product.currency,
                version=F("version") + 1,
                updated_at=timezone.now(),
            )
            (completed if named or priced else unchanged).append(product.product_id)
    return CatalogSeedResult(created=created, completed=completed, unchanged=unchanged)


def inventory_reserve(
    *, order_id: int, lines: Sequence[StockLine], expected_total: Decimal | None = None, price_override: bool = False
) -> StockDecision:
    """Reserve every line of an order or none, once, at the catalog's prices; runs in the consumer's transaction.

    Rows are taken in product order, so two orders over the same products wait
    for each other instead of deadlocking. Refused, with nothing moved, when a
    line is short or unknown, when a product has no price (unless staff set the
    total: ``price_override``), when the lines are priced in different
    currencies, or when the catalog total differs from ``expected_total``.

    A repeated command (redelivery, recovery re-send) gets the first decision
    back. A reservation after the order's release is refused, so a late command
    cannot hold stock for a saga that has given it back.
    """
    return _decide_once(
        order_id=order_id,
        action=InventoryAction.RESERVE,
        decide=partial(
            _reserve,
            order_id=order_id,
            lines=_in_product_order(lines),
            expected_total=expected_total,
            price_override=price_override,
        ),
    )


def _reserve(
    *, order_id: int, lines: tuple[StockLine, ...], expected_total: Decimal | None, price_override: bool
) -> StockDecision:
    short = _move_all(lines=lines, source="available_qty", target="reserved_qty")
    if short is not None:
        exists = sql_rows(using=DATABASE, sql="SELECT 1 FROM inventories WHERE product_id = %s", params=[short])
        reason = "insufficient stock" if exists else "product not found"
        return StockDecision(False, lines, reason if len(lines) == 1 else f"{reason}: product {short}")
    # The row locks are ours now: a release of this order has either committed or not started.
    refusal = "order already released" if _logged(order_id=order_id, action=InventoryAction.RELEASE) else ""
    priced, currency = _priced(lines)
    if not refusal:
        refusal = _price_refusal(priced, currency, expected_total=expected_total, price_override=price_override)
    if refusal:
        _move_all(lines=lines, source="reserved_qty", target="available_qty")
        return StockDecision(False, lines, refusal)
    return StockDecision(True, priced, currency=currency)


def _priced(lines: tuple[StockLine, ...]) -> tuple[tuple[StockLine, ...], str]:
    """The lines with their catalog prices, and the currency (the first line's: a mix is refused)."""
    ids = [line.product_id for line in lines]
    rows = sql_rows(
        using=DATABASE,
        sql=f"SELECT product_id, unit_price, currency FROM inventories WHERE product_id IN {sql_in(ids)}",  # noqa: S608
        params=ids,
    )
    prices = {product_id: (_money(price), currency) for product_id, price, currency in rows}
    priced = tuple(dataclasses.replace(line, unit_price=prices[line.product_id][0]) for line in lines)
    currencies = {prices[line.product_id][1] for line in lines if prices[line.product_id][0] is not None}
    return priced, (sorted(currencies)[0] if len(currencies) == 1 else "" if not currencies else "MIXED")


def _price_refusal(
    lines: tuple[StockLine, ...], currency: str, *, expected_total: Decimal | None, price_override: bool
) -> str:
    if price_override:
        return ""
    unpriced = [str(line.product_id) for line in lines if line.unit_price is None]
    if unpriced:
        return f"product {', '.join(unpriced)} has no price"
    if currency == "MIXED":
        return "the products are priced in different currencies"
    total = order_total(lines)
    if expected_total is not None and total != expected_total:
        return f"price changed: the catalog total is {total} {currency}, not {expected_total}"
    return ""


def order_total(lines: Sequence[StockLine]) -> Decimal:
    """The sum of unit price x quantity over priced lines, to the cent."""
    return sum((line.unit_price * line.quantity for line in lines), Decimal("0.00")).quantize(CENT)


def inventory_release(*, order_id: int, lines: Sequence[StockLine]) -> StockDecision:
    """Give back exactly what the order reserved, once; runs in the consumer's transaction.

    Releasing an order that reserved nothing succeeds with nothing moved and
    leaves a RELEASE record that refuses any later reservation for it.
    """
    return _decide_once(
        order_id=order_id,
        action=InventoryAction.RELEASE,
        decide=partial(_release, order_id=order_id, lines=_in_product_order(lines)),
    )


def _release(*, order_id: int, lines: tuple[StockLine, ...]) -> StockDecision:
    reserved = _locked_reservation(order_id=order_id, lines=lines)
    if not reserved:
        return StockDecision(True, _nothing(lines), "nothing was reserved")
    if _logged(order_id=order_id, action=InventoryAction.COMMIT, outcome=InventoryOutcome.APPLIED):
        return StockDecision(False, reserved, "order already sold")
    if _move_all(lines=reserved, source="reserved_qty", target="available_qty") is not None:
        return StockDecision(False, reserved, "reserved stock is missing")
    return StockDecision(True, reserved)


def _locked_reservation(*, order_id: int, lines: tuple[StockLine, ...]) -> tuple[StockLine, ...]:
    """The order's applied reservation, line by line, read after locking the products' rows in product order.

    The locks come first, so a concurrent reserve of this order either committed
    before us (we see its log) or waits and then sees our release or commit.
    """
    ids = [line.product_id for line in lines]
    sql_rows(
        using=DATABASE,
        sql=f"SELECT id FROM inventories WHERE product_id IN {sql_in(ids)} ORDER BY product_id",  # noqa: S608
        params=ids,
        for_update=True,
    )
    rows = sql_rows(
        using=DATABASE,
        sql="SELECT product_id, quantity FROM inventory_logs WHERE order_id = %s AND action = %s AND outcome = %s"
        " ORDER BY product_id",
        params=[order_id, InventoryAction.RESERVE, InventoryOutcome.APPLIED],
    )
    return tuple(StockLine(product_id, quantity) for product_id, quantity in rows)


def inventory_commit(*, order_id: int, lines: Sequence[StockLine]) -> StockDecision:
    """Turn the order's reservation into sold units, every line or none, once; runs in the consumer's transaction.

    Refused (and recorded, so a repeat gets the same answer) when the order
    reserved nothing, was released or restocked, or its reserved units are missing.
    """
    return _decide_once(
        order_id=order_id,
        action=InventoryAction.COMMIT,
        decide=partial(_commit, order_id=order_id, lines=_in_product_order(lines)),
    )


def _commit(*, order_id: int, lines: tuple[StockLine, ...]) -> StockDecision:
    reserved = _locked_reservation(order_id=order_id, lines=lines)
    if not reserved:
        return StockDecision(False, _nothing(lines), "nothing was reserved")
    if _logged(order_id=order_id, action=InventoryAction.RELEASE):
        return StockDecision(False, reserved, "order already released")
    if _logged(order_id=order_id, action=InventoryAction.RESTOCK, outcome=InventoryOutcome.APPLIED):
        return StockDecision(False, reserved, "order already cancelled and restocked")
    if _move_all(lines=reserved, source="reserved_qty", target="sold_qty") is not None:
        return StockDecision(False, reserved, "reserved stock is missing")
    return StockDecision(True, reserved)


def inventory_restock(*, order_id: int, lines: Sequence[StockLine]) -> StockDecision:
    """Put a cancelled order's units back on sale, every line or none, once; runs in the consumer's transaction.

    Sold units go back to available. If the order's commit has not arrived
    yet, its reserved units go back instead, and the RESTOCK record makes the
    late commit refuse. An order that reserved nothing, or was released,
    restocks nothing and succeeds.
    """
    return _decide_once(
        order_id=order_id,
        action=InventoryAction.RESTOCK,
        decide=partial(_restock, order_id=order_id, lines=_in_product_order(lines)),
    )


def _restock(*, order_id: int, lines: tuple[StockLine, ...]) -> StockDecision:
    reserved = _locked_reservation(order_id=order_id, lines=lines)
    if not reserved:
        return StockDecision(True, _nothing(lines), "nothing was reserved")
    if _logged(order_id=order_id, action=InventoryAction.COMMIT, outcome=InventoryOutcome.APPLIED):
        source = "sold_qty"
    elif _logged(order_id=order_id, action=InventoryAction.RELEASE, outcome=InventoryOutcome.APPLIED):
        return StockDecision(True, _nothing(reserved), "order already released")
    else:
        source = "reserved_qty"
    if _move_all(lines=reserved, source=source, target="available_qty") is not None:
        return StockDecision(False, reserved, f"{source.removesuffix('_qty')} stock is missing")
    return StockDecision(True, reserved)


def _in_product_order(lines: Sequence[StockLine]) -> tuple[StockLine, ...]:
    return tuple(sorted(lines, key=lambda line: line.product_id))


def _nothing(lines: tuple[StockLine, ...]) -> tuple[StockLine, ...]:
    return tuple(StockLine(line.product_id, 0) for line in lines)


StockCounter = Literal["available_qty", "reserved_qty", "sold_qty"]


def _move_all(*, lines: tuple[StockLine, ...], source: StockCounter, target: StockCounter) -> int | None:
    """Move every line's units from ``source`` to ``target``, or none: the product that fell short, or None.

    The lines come in product order, so the row locks are taken in that order.
    A line that falls short undoes the moves before it (no savepoint: inside a
    consumer's batch there is none), on rows this transaction already holds.
    """
    for done, line in enumerate(lines):
        if not _move(product_id=line.product_id, quantity=line.quantity, source=source, target=target):
            for moved in reversed(lines[:done]):
                _move(product_id=moved.product_id, quantity=moved.quantity, source=target, target=source)
            return line.product_id
    return None


def _move(*, product_id: int, quantity: int, source: StockCounter, target: StockCounter) -> bool:
    """Move ``quantity`` units of the product from one counter to another, only if ``source`` holds them.

    The one way stock changes hands: a conditional UPDATE, so no counter goes below zero and two
    concurrent moves cannot both take the last unit.
    """
    if not quantity:
        return True
    # Both counters are column names from StockCounter; every value goes through a placeholder.
    sql = (
        f"UPDATE inventories SET {source} = {source} - %s, {target} = {target} + %s,"  # noqa: S608
        f" version = version + 1, updated_at = %s WHERE product_id = %s AND {source} >= %s"
    )
    return bool(sql_execute(using=DATABASE, sql=sql, params=[quantity, quantity, _now(), product_id, quantity]))


def _logged(*, order_id: int, action: str, outcome: str | None = None) -> bool:
    """Whether the order has a log entry for ``action`` (with ``outcome``, if given)."""
    sql, params = "SELECT outcome FROM inventory_logs WHERE order_id = %s AND action = %s", [order_id, action]
    return any(outcome is None or found == outcome for (found,) in sql_rows(using=DATABASE, sql=sql, params=params))


def _now():
    return sql_param(using=DATABASE, model=Inventory, field="updated_at", value=timezone.now())


def _money(value) -> Decimal | None:
    # SQLite hands a decimal column back as a float or an int.
    return None if value is None else Decimal(str(value)).quantize(CENT)


def _decide_once(*, order_id: int, action: str, decide: Callable[[], StockDecision]) -> StockDecision:
    """The decision on record for (order, action), taking it with ``decide`` if there is none.

    The decision is logged one row per line. A repeated command (redelivery,
    recovery re-send) gets the first decision back: its first log row fails on
    the unique (order_id, action, product_id), the savepoint undoes whatever
    stock it moved, and the decision on record is returned. A twin racing in
    ends the same way. Repeats are rare, so the common path does not look the
    decision up first. In a consumer's batch there is no savepoint: a repeat
    fails the batch, which is handled again message by message, each with its
    savepoint.
    """
    try:
        with sql_savepoint(using=DATABASE):
            decision = decide()
            outcome = InventoryOutcome.APPLIED if decision.success else InventoryOutcome.REJECTED
            for line in decision.lines:
                sql_insert(
                    using=DATABASE,
                    model=InventoryLog,
                    values={
                        "order_id": order_id,
                        "product_id": line.product_id,
                        "action": action,
                        "outcome": outcome,
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "currency": decision.currency,
                        "reason": decision.reason,
                    },
                )
    except IntegrityError:
        return _decision(order_id=order_id, action=action)
    return decision


def _decision(*, order_id: int, action: str) -> StockDecision | None:
    rows = sql_rows(
        using=DATABASE,
        sql="SELECT outcome, product_id, quantity, unit_price, currency, reason FROM inventory_logs"
        " WHERE order_id = %s AND action = %s ORDER BY product_id",
        params=[order_id, action],
    )
    if not rows:
        return None
    outcome, _, _, _, currency, reason = rows[0]
    lines = tuple(StockLine(product_id, quantity, _money(price)) for _, product_id, quantity, price, _, _ in rows)
    return StockDecision(outcome == InventoryOutcome.APPLIED, lines, reason, currency)
