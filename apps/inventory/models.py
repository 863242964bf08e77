from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

DEFAULT_CURRENCY = "USD"


class Inventory(models.Model):
    """A product: its stock counters and its catalog entry (name, unit price)."""

    product_id = models.BigIntegerField(unique=True)
    # Database defaults too: a process still on the previous release inserts rows without these columns.
    name = models.CharField(max_length=200, blank=True, default="", db_default="")
    # NULL until someone prices the product; the catalog shows it, but it has no price to charge yet.
    unit_price = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(
        max_length=3,
        default=DEFAULT_CURRENCY,
        db_default=DEFAULT_CURRENCY,
        validators=[RegexValidator(r"\A[A-Z]{3}\Z", "Three capital letters (ISO 4217), such as USD.")],
    )
    available_qty = models.BigIntegerField(default=0)
    # Units held by orders in flight; released units go back to available, committed ones to sold.
    reserved_qty = models.BigIntegerField(default=0)
    # Units of completed orders. available + reserved + sold is the stock ever received.
    sold_qty = models.BigIntegerField(default=0)
    version = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "inventories"
        verbose_name_plural = "inventory"
        ordering = ["product_id"]
        # Each says in a sentence what is wrong: the admin's form shows it instead of the constraint's name.
        constraints = [
            models.CheckConstraint(
                condition=models.Q(available_qty__gte=0),
                name="inventory_available_qty_gte_0",
                violation_error_message="Available stock cannot be negative: enter 0 or more units.",
            ),
            models.CheckConstraint(
                condition=models.Q(reserved_qty__gte=0),
                name="inventory_reserved_qty_gte_0",
                violation_error_message=(
                    "Reserved stock cannot be negative: orders in flight cannot hold fewer than 0 units."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(sold_qty__gte=0),
                name="inventory_sold_qty_gte_0",
                violation_error_message="Sold stock cannot be negative: enter 0 or more units.",
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__isnull=True) | models.Q(unit_price__gt=0),
                name="inventory_unit_price_gt_0",
                violation_error_message=(
                    "A unit price must be more than 0; leave it empty for a product that has no price yet."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"product {self.product_id}"


class InventoryAction(models.TextChoices):
    RESERVE = "RESERVE"
    RELEASE = "RELEASE"
    COMMIT = "COMMIT"
    # A cancelled order's units back on sale: from sold, or from reserved if it was never sold.
    RESTOCK = "RESTOCK"


class InventoryOutcome(models.TextChoices):
    APPLIED = "APPLIED"
    REJECTED = "REJECTED"


class InventoryLog(models.Model):
    """One decision per (order, action), one row per line of the order; the unique triple makes them idempotent.

    A REJECTED reserve is recorded too, so a re-sent command gets the same answer
    instead of reserving stock for a saga that has already failed. A reserve
    records the unit price it was made at, so a repeat answers the same price.
    """

    order_id = models.BigIntegerField()
    product_id = models.BigIntegerField()
    action = models.CharField(max_length=8, choices=InventoryAction.choices)
    outcome = models.CharField(max_length=8, choices=InventoryOutcome.choices, default=InventoryOutcome.APPLIED)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="", db_default="")
    reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "inventory_logs"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_id", "action", "product_id"], name="inventory_log_order_action_product_uniq"
            ),
        ]
        indexes = [models.Index(fields=["product_id"], name="inventory_log_product_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.quantity} of {self.product_id} for order {self.order_id}"
