from django.contrib import admin

from apps.common.admin import ReadOnlyAdmin, admin_link
from apps.payments.models import Payment


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Payments, each linked back to its order and saga in the orders admin (by id: another database)."""

    list_display = (
        "order_id",
        "order",
        "saga",
        "amount",
        "status",
        "transaction_id",
        "refund_id",
        "created_at",
        "refunded_at",
    )
    list_filter = ("status",)
    search_fields = ("=order_id", "=transaction_id", "=saga_id")
    readonly_fields = ("order", "saga", "stock")

    @admin.display(description="order page")
    def order(self, payment: Payment):
        return admin_link("admin:orders_order_change", f"order {payment.order_id}", args=[payment.order_id])

    @admin.display(description="saga")
    def saga(self, payment: Payment):
        if payment.saga_id is None:
            # Payments written before sagas were named on them: the order's sagas.
            return admin_link("admin:orders_sagastate_changelist", "the order's sagas", order_id=payment.order_id)
        return admin_link("admin:orders_sagastate_change", f"saga {payment.saga_id}", args=[payment.saga_id])

    @admin.display(description="inventory log")
    def stock(self, payment: Payment):
        return admin_link("admin:inventory_inventorylog_changelist", "inventory log entries", order_id=payment.order_id)
