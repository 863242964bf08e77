import uuid

from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"
    # The customer cancelled: the sagas are giving back the stock and the money.
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"


class SagaType(models.TextChoices):
    PLACEMENT = "placement"
    CANCELLATION = "cancellation"


class SagaStatus(models.TextChoices):
    IN_PROGRESS = "IN_PROGRESS"
    COMPENSATING = "COMPENSATING"
    COMPLETED = "COMPLETED"
    COMPENSATED = "COMPENSATED"
    FAILED = "FAILED"
    # A FAILED saga an operator has dealt with by hand; terminal, kept apart so FAILED means "needs a person".
    RESOLVED = "RESOLVED"


class SagaStep(models.TextChoices):
    RESERVING_INVENTORY = "RESERVING_INVENTORY"
    PROCESSING_PAYMENT = "PROCESSING_PAYMENT"
    REFUNDING_PAYMENT = "REFUNDING_PAYMENT"
    RELEASING_INVENTORY = "RELEASING_INVENTORY"
    RESTOCKING_INVENTORY = "RESTOCKING_INVENTORY"
    DONE = "DONE"


class Order(models.Model):
    """A customer's order of one or more lines (OrderLine).

    ``total_amount`` is what the payment charges. The catalog fixes it when the
    stock is reserved (the reservation's answer carries the unit prices), so it
    is NULL until then; staff with ``override_price`` set it at placement
    instead (``price_overridden``). ``expected_total`` is the total the
    customer agreed to: a catalog total that differs fails the order before
    any charge.
    """

    user_id = models.BigIntegerField(db_index=True)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="", db_default="")
    expected_total = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    price_overridden = models.BooleanField(default=False, db_default=False)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    failure_reason = models.CharField(max_length=255, blank=True, default="")
    # What the customer said when cancelling (empty when they said nothing, or never cancelled).
    cancel_reason = models.CharField(max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders"
        ordering = ["-id"]
        permissions = [
            ("place_on_behalf", "Can place an order for any customer"),
            ("override_price", "Can set an order's total instead of the catalog's"),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status})"


class OrderLine(models.Model):
    """One product of an order: its units, and the catalog's unit price once the stock is reserved."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product_id = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        db_table = "order_lines"
        ordering = ["order", "product_id"]
        constraints = [models.UniqueConstraint(fields=["order", "product_id"], name="order_line_product_uniq")]

    def __str__(self) -> str:
        return f"{self.quantity} of product {self.product_id}"

    @property
    def line_total(self):
        return None if self.unit_price is None else self.unit_price * self.quantity


class SagaState(models.Model):
    """One run of a saga definition (apps.orders.sagas) for an order; an order has one active at a time.

    The columns added with saga types carry database defaults, so a process of
    the version before them can still insert sagas while a deploy rolls out.
    """

    saga_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    saga_type = models.CharField(
        max_length=16, choices=SagaType.choices, default=SagaType.PLACEMENT, db_default=SagaType.PLACEMENT
    )
    order_id = models.BigIntegerField(db_index=True)
    # The order's id while the saga is active, NULL once terminal: the unique index lets an order have
    # one active saga at most (MariaDB has no partial unique index; NULLs never collide).
    active_order_id = models.BigIntegerField(unique=True, null=True, blank=True)
    # A cancellable saga the customer cancelled: it compensates, and its order ends CANCELLED.
    cancelling = models.BooleanField(default=False, db_default=False)
    # Failed replies to the current step's action so far (actions that may try again).
    step_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    status = models.CharField(max_length=16, choices=SagaStatus.choices, default=SagaStatus.IN_PROGRESS)
    current_step = models.CharField(max_length=32, choices=SagaStep.choices, default=SagaStep.RESERVING_INVENTORY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the current step must have answered; NULL once the saga is terminal.
    deadline_at = models.DateTimeField(null=True, blank=True)
    # The trace of the request that placed the order; every message of the saga carries it.
    trace_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        db_table = "saga_states"
        ordering = ["-id"]
        permissions = [("operate_saga", "Can retry, force-compensate and resolve sagas")]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="saga_status_updated_idx"),
            models.Index(fields=["status", "deadline_at"], name="saga_status_deadline_idx"),
        ]

    def __str__(self) -> str:
        return f"saga {self.saga_id} ({self.status}/{self.current_step})"


class SagaHistory(models.Model):
    """One row per transition of a saga, and per operator action on it: its timeline.

    The placement is not stored: ``selectors.saga_history`` builds it from the saga row.

    ``from_status`` is empty for the saga's start. A manual action that changes
    no state (a step retried) has equal from and to.
    """

    saga = models.ForeignKey(SagaState, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=16, blank=True, default="")
    from_step = models.CharField(max_length=32, blank=True, default="")
    to_status = models.CharField(max_length=16)
    to_step = models.CharField(max_length=32)
    event = models.CharField(max_length=32)
    # The message that caused it; NULL for the order's placement, deadlines and operator actions.
    message_id = models.UUIDField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True, default="")
    # The operator's username for a manual action; empty when the saga moved by itself.
    actor = models.CharField(max_length=150, blank=True, default="")
    # What the operator wrote when acting (force compensation and resolve ask for it); ``reason`` is the saga's own.
    note = models.CharField(max_length=1000, blank=True, default="", db_default="")

    class Meta:
        db_table = "saga_history"
        ordering = ["saga", "id"]
        verbose_name_plural = "saga history"

    def __str__(self) -> str:
        return f"{self.event}: {self.from_status}/{self.from_step} -> {self.to_status}/{self.to_step}"


class OrderIdempotencyKey(models.Model):
    """An ``Idempotency-Key`` a client sent with POST /orders, and what it produced.

    A key belongs to the user who sent it: the unique (user, key) makes the
    database decide which of several concurrent requests places the order, and
    another user's same key is another key. The fingerprint tells a retry (same
    body) from a reuse of the key for another order. Keys expire
    (IDEMPOTENCY_KEY_TTL); the purge job deletes them.
    """

    user_id = models.BigIntegerField(default=0, db_default=0)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    order_id = models.BigIntegerField(null=True)
    saga_id = models.UUIDField(null=True)
    # The order's status in the first response, replayed as it was.
    response_status = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "order_idempotency_keys"
        constraints = [models.UniqueConstraint(fields=["user_id", "key"], name="order_idempotency_user_key_uniq")]
        indexes = [models.Index(fields=["created_at"], name="order_idempotency_created_idx")]

    def __str__(self) -> str:
        return f"idempotency key {self.key} (order {self.order_id})"
