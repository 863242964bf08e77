from django.urls import re_path

from apps.orders.apis import OrderCancelApi, OrderDetailApi, OrdersApi, SagaDetailApi, SagasApi

urlpatterns = [
    re_path(r"^orders/?$", OrdersApi.as_view(), name="orders"),
    re_path(r"^orders/(?P<order_id>[^/]+)/?$", OrderDetailApi.as_view(), name="order-detail"),
    re_path(r"^orders/(?P<order_id>[^/]+)/cancel/?$", OrderCancelApi.as_view(), name="order-cancel"),
    re_path(r"^sagas/?$", SagasApi.as_view(), name="sagas"),
    re_path(r"^sagas/(?P<saga_id>[^/]+)/?$", SagaDetailApi.as_view(), name="saga-detail"),
]
