from django.urls import re_path

from apps.payments.apis import PaymentDetailApi

urlpatterns = [
    re_path(r"^payments/(?P<order_id>[^/]+)/?$", PaymentDetailApi.as_view(), name="payment-detail"),
]
