from django.contrib import admin

from apps.common.admin import ReadOnlyAdmin
from apps.payments.models import Payment


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "amount", "status", "transaction_id", "refund_id", "created_at", "refunded_at")
    list_filter = ("status",)
    search_fields = ("=order_id", "=transaction_id")
