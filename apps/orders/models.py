import uuid

from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"


class SagaStatus(models.TextChoices):
    IN_PROGRESS = "IN_PROGRESS"
    COMPENSATING = "COMPENSATING"
    COMPLETED = "COMPLETED"
    COMPENSATED = "COMPENSATED"
    FAILED = "FAILED"


class SagaStep(models.TextChoices):
    RESERVING_INVENTORY = "RESERVING_INVENTORY"
    PROCESSING_PAYMENT = "PROCESSING_PAYMENT"
    RELEASING_INVENTORY = "RELEASING_INVENTORY"
    DONE = "DONE"


class Order(models.Model):
    user_id = models.BigIntegerField(db_index=True)
    product_id = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    failure_reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status})"


class SagaState(models.Model):
    saga_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    order_id = models.BigIntegerField(unique=True)
    status = models.CharField(max_length=16, choices=SagaStatus.choices, default=SagaStatus.IN_PROGRESS)
    current_step = models.CharField(max_length=32, choices=SagaStep.choices, default=SagaStep.RESERVING_INVENTORY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The trace of the request that placed the order; every message of the saga carries it.
    trace_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        db_table = "saga_states"
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "updated_at"], name="saga_status_updated_idx")]

    def __str__(self) -> str:
        return f"saga {self.saga_id} ({self.status}/{self.current_step})"
