"""The query-string filters of GET /orders and GET /sagas."""

import django_filters

from apps.common.filters import DateTimeFilter, OrderingFilter
from apps.orders.models import Order, OrderStatus, SagaState, SagaStatus, SagaType

ORDERING_HELP = "Sort by created_at or id, descending with a leading '-' (default: -id, newest first)"


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices, help_text="Only orders in this status")
    created_after = DateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="Only orders placed at or after this time (ISO 8601; UTC when no offset is given)",
    )
    created_before = DateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text="Only orders placed before this time (ISO 8601; UTC when no offset is given)",
    )
    ordering = OrderingFilter(fields=("created_at", "id"), help_text=ORDERING_HELP)

    class Meta:
        model = Order
        fields = ["status"]


class SagaFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SagaStatus.choices, help_text="Only sagas in this status")
    type = django_filters.ChoiceFilter(
        field_name="saga_type", choices=SagaType.choices, help_text="Only sagas of this type"
    )
    created_after = DateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="Only sagas started at or after this time (ISO 8601; UTC when no offset is given)",
    )
    created_before = DateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text="Only sagas started before this time (ISO 8601; UTC when no offset is given)",
    )
    ordering = OrderingFilter(fields=("created_at", "id"), help_text=ORDERING_HELP)

    class Meta:
        model = SagaState
        fields = ["status"]
