from django.db import models


class PaymentStatus(models.TextChoices):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"
    # A refund reached us before any charge: the row refuses a later charge for the order.
    VOIDED = "VOIDED"


class Payment(models.Model):
    order_id = models.BigIntegerField(unique=True)
    # The order's customer (NULL for payments made before customers, and for a refund's VOIDED row).
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    saga_id = models.UUIDField(null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=8, choices=PaymentStatus.choices)
    transaction_id = models.CharField(max_length=64, unique=True)
    failure_reason = models.CharField(max_length=255, blank=True, default="")
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "payments"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"payment for order {self.order_id} ({self.status})"
