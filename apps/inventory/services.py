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
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Literal, TypedDict, Unpack

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.common.sql import sql_execute, sql_insert, sql_param, sql_rows, sql_savepoint
from apps.inventory.models import DEFAULT_CURRENCY, Inventory, InventoryAction, InventoryLog, InventoryOutcome

DATABASE = "inventory"


class ProductExists(Exception):
    """The product already has an inventory row."""


class ProductNotFound(Exception):
    """No inventory row for the product."""


class VersionConflict(Exception):
    """The row changed since the caller read it (its version moved on)."""


@dataclasses.dataclass(frozen=True)
class StockDecision:
    success: bool
    product_id: int
    quantity: int
    reason: str = ""


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


def inventory_reserve(*, order_id: int, product_id: int, quantity: int) -> StockDecision:
    """Reserve stock for an order, once; runs in the inventory consumer's transaction.

    A repeated command (redelivery, recovery re-send) gets the first decision
    back. A reservation after the order's release is refused, so a late command
    cannot hold stock for a saga that has given it back.
    """
    return _decide_once(
        order_id=order_id,
        action=InventoryAction.RESERVE,
        decide=partial(_reserve, order_id=order_id, product_id=product_id, quantity=quantity),
    )


def _reserve(*, order_id: int, product_id: int, quantity: int) -> StockDecision:
    if not _move(product_id=product_id, quantity=quantity, source="available_qty", target="reserved_qty"):
        exists = sql_rows(using=DATABASE, sql="SELECT 1 FROM inventories WHERE product_id = %s", params=[product_id])
        return StockDecision(False, product_id, quantity, "insufficient stock" if exists else "product not found")
    # The row lock is ours now: a release of this order has either committed or not started.
    if _logged(order_id=order_id, action=InventoryAction.RELEASE):
        _give_back(product_id=product_id, quantity=quantity)
        return StockDecision(False, product_id, quantity, "order already released")
    return StockDecision(True, product_id, quantity)


def inventory_release(*, order_id: int, product_id: int) -> StockDecision:
    """Give back exactly what the order reserved, once; runs in the consumer's transaction.

    Releasing an order that reserved nothing succeeds with quantity 0 and leaves
    a RELEASE record that refuses any later reservation for it.
    """
    return _decide_once(
        order_id=order_id,
        action=InventoryAction.RELEASE,
        decide=partial(_release, order_id=order_id, product_id=product_id),
    )


def _release(*, order_id: int, product_id: int) -> StockDecision:
    reservation = _locked_reservation(order_id=order_id, product_id=product_id)
    if reservation is None:
        return StockDecision(True, product_id, 0, "nothing was reserved")
    reserved_product, reserved = reservation
    if _logged(order_id=order_id, action=InventoryAction.COMMIT, outcome=InventoryOutcome.APPLIED):
        return StockDecision(False, reserved_product, reserved, "order already sold")
    if not _give_back(product_id=reserved_product, quantity=reserved):
        return StockDecision(False, reserved_product, reserved, "reserved stock is missing")
    return StockDecision(True, reserved_product, reserved)


def _locked_reservation(*, order_id: int, product_id: int) -> tuple[int, int] | None:
    """The (product_id, quantity) of the order's applied reservation, read after locking the product's row.

    The lock comes first, so a concurrent reserve of this order either committed
    before us (we see its log) or waits and then sees our release or commit.
    """
    sql_rows(
        using=DATABASE,
        sql="SELECT id FROM inventories WHERE product_id = %s",
        params=[product_id],
        for_update=True,
    )
    rows = sql_rows(
        using=DATABASE,
        sql="SELECT product_id, quantity FROM inventory_logs WHERE order_id = %s AND action = %s AND outcome = %s",
        params=[order_id, InventoryAction.RESERVE, InventoryOutcome.APPLIED],
    )
    return rows[0] if rows else None


def inventory_commit(*, order_id: int, product_id: int) -> StockDecision:
    """Turn the order's reservation into sold units, once; runs in the consumer's transaction.

    Refused (and recorded, so a repeat gets the same answer) when the order
    reserved nothing, was released, or its reserved units are missing.
    """
    return _decide_once(
        order_id=order_id,
        action=InventoryAction.COMMIT,
        decide=partial(_commit, order_id=order_id, product_id=product_id),
    )


def _commit(*, order_id: int, product_id: int) -> StockDecision:
    reservation = _locked_reservation(order_id=order_id, product_id=product_id)
    if reservation is None:
        return StockDecision(False, product_id, 0, "nothing was reserved")
    reserved_product, reserved = reservation
    if _logged(order_id=order_id, action=InventoryAction.RELEASE):
        return StockDecision(False, reserved_product, reserved, "order already released")
    if _logged(order_id=order_id, action=InventoryAction.RESTOCK, outcome=InventoryOutcome.APPLIED):
        return StockDecision(False, reserved_product, reserved, "order already cancelled and restocked")
    if not _move(product_id=reserved_product, quantity=reserved, source="reserved_qty", target="sold_qty"):
        return StockDecision(False, reserved_product, reserved, "reserved stock is missing")
    return StockDecision(True, reserved_product, reserved)


def inventory_restock(*, order_id: int, product_id: int) -> StockDecision:
    """Put a cancelled order's units back on sale, once; runs in the consumer's transaction.

    Sold units go back to available. If the order's commit has not arrived
    yet, its reserved units go back instead, and the RESTOCK record makes the
    late commit refuse. An order that reserved nothing, or was released,
    restocks nothing and succeeds.
    """
    return _decide_once(
        order_id=order_id,
        action=InventoryAction.RESTOCK,
        decide=partial(_restock, order_id=order_id, product_id=product_id),
    )


def _restock(*, order_id: int, product_id: int) -> StockDecision:
    reservation = _locked_reservation(order_id=order_id, product_id=product_id)
    if reservation is None:
        return StockDecision(True, product_id, 0, "nothing was reserved")
    reserved_product, reserved = reservation
    if _logged(order_id=order_id, action=InventoryAction.COMMIT, outcome=InventoryOutcome.APPLIED):
        source = "sold_qty"
    elif _logged(order_id=order_id, action=InventoryAction.RELEASE, outcome=InventoryOutcome.APPLIED):
        return StockDecision(True, reserved_product, 0, "order already released")
    else:
        source = "reserved_qty"
    if not _move(product_id=reserved_product, quantity=reserved, source=source, target="available_qty"):
        return StockDecision(False, reserved_product, reserved, f"{source.removesuffix('_qty')} stock is missing")
    return StockDecision(True, reserved_product, reserved)


def _give_back(*, product_id: int, quantity: int) -> bool:
    return _move(product_id=product_id, quantity=quantity, source="reserved_qty", target="available_qty")


StockCounter = Literal["available_qty", "reserved_qty", "sold_qty"]


def _move(*, product_id: int, quantity: int, source: StockCounter, target: StockCounter) -> bool:
    """Move ``quantity`` units of the product from one counter to another, only if ``source`` holds them.

    The one way stock changes hands: a conditional UPDATE, so no counter goes below zero and two
    concurrent moves cannot both take the last unit.
    """
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


def _decide_once(*, order_id: int, action: str, decide: Callable[[], StockDecision]) -> StockDecision:
    """The decision on record for (order, action), taking it with ``decide`` if there is none.

    A repeated command (redelivery, recovery re-send) gets the first decision
    back: its log row fails on the unique (order_id, action), the savepoint
    undoes whatever stock it moved, and the decision on record is returned. A
    twin racing in ends the same way. Repeats are rare, so the common path does
    not look the decision up first. In a consumer's batch there is no
    savepoint: a repeat fails the batch, which is handled again message by
    message, each with its savepoint.
    """
    try:
        with sql_savepoint(using=DATABASE):
            decision = decide()
            sql_insert(
                using=DATABASE,
                model=InventoryLog,
                values={
                    "order_id": order_id,
                    "product_id": decision.product_id,
                    "action": action,
                    "outcome": InventoryOutcome.APPLIED if decision.success else InventoryOutcome.REJECTED,
                    "quantity": decision.quantity,
                    "reason": decision.reason,
                },
            )
    except IntegrityError:
        return _decision(order_id=order_id, action=action)
    return decision


def _decision(*, order_id: int, action: str) -> StockDecision | None:
    rows = sql_rows(
        using=DATABASE,
        sql="SELECT outcome, product_id, quantity, reason FROM inventory_logs WHERE order_id = %s AND action = %s",
        params=[order_id, action],
    )
    if not rows:
        return None
    outcome, product_id, quantity, reason = rows[0]
    return StockDecision(outcome == InventoryOutcome.APPLIED, product_id, quantity, reason)
