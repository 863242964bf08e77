from django.contrib import admin

from apps.common.admin import ReadOnlyAdmin
from apps.orders.models import Order, SagaState


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "user_id", "product_id", "quantity", "total_amount", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("=id", "=user_id", "=product_id")
    date_hierarchy = "created_at"


@admin.register(SagaState)
class SagaStateAdmin(ReadOnlyAdmin):
    list_display = ("saga_id", "order_id", "status", "current_step", "created_at", "updated_at", "completed_at")
    list_filter = ("status", "current_step")
    search_fields = ("=saga_id", "=order_id", "=trace_id")
    date_hierarchy = "created_at"
