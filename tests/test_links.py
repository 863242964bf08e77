"""The links of an order and a saga lead to the other apps' routes: GET one, as someone allowed, is a 200."""

import pytest

from apps.common.tests.users import logged_in
from apps.orders.tests.factories import OrderFactory, SagaStateFactory
from apps.payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db(databases=["default", "orders", "payments"])


def test_a_customer_follows_their_orders_payment_url(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    order = OrderFactory(user_id=alice.pk)
    PaymentFactory(order_id=order.pk, user_id=alice.pk, amount=order.total_amount)
    client = logged_in(alice)

    payment_url = client.get(f"/orders/{order.pk}").json()["payment_url"]
    payment = client.get(payment_url)

    assert payment.status_code == 200
    assert payment.json()["order_id"] == order.pk


def test_staff_follow_a_sagas_payment_url(api_client):
    saga = SagaStateFactory()
    PaymentFactory(order_id=saga.order_id, saga_id=saga.saga_id)

    payment_url = api_client.get(f"/sagas/{saga.saga_id}").json()["saga"]["payment_url"]

    assert api_client.get(payment_url).json()["order_id"] == saga.order_id


def test_a_payment_url_before_any_charge_is_a_404(api_client):
    order = OrderFactory()

    assert api_client.get(api_client.get(f"/orders/{order.pk}").json()["payment_url"]).status_code == 404
