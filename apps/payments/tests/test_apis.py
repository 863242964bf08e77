"""The payments HTTP API: GET /payments/{order_id}."""

from decimal import Decimal

import pytest

from apps.common.tests.http import assert_json_error
from apps.common.tests.users import logged_in
from apps.payments.models import PaymentStatus
from apps.payments.tests.factories import PaymentFactory

PAYMENTS_DB = ["default", "payments"]


@pytest.fixture
def client(api_client):
    """Staff with payments.view_payment, who see every order's payment."""
    return api_client


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_get_payment_of_an_order(client):
    PaymentFactory(order_id=17, amount=Decimal("25.50"), transaction_id="txn-17")

    response = client.get("/payments/17")

    assert response.status_code == 200
    body = response.json()
    assert body["order_id"] == 17
    assert body["amount"] == "25.50"
    assert body["status"] == "SUCCESS"
    assert body["transaction_id"] == "txn-17"
    assert body["failure_reason"] == ""
    assert body["created_at"]
    assert body["updated_at"]


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_get_failed_payment_carries_its_reason(client):
    PaymentFactory(order_id=18, status=PaymentStatus.FAILED, failure_reason="card declined")

    body = client.get("/payments/18").json()

    assert (body["status"], body["failure_reason"]) == ("FAILED", "card declined")


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_get_payment_of_unpaid_order_is_404(client):
    PaymentFactory(order_id=17)

    response = client.get("/payments/18")

    assert_json_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", "1.0", str(2**63)])
@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_get_payment_with_invalid_id_is_400(client, raw_id):
    response = client.get(f"/payments/{raw_id}")

    assert_json_error(response, 400, "INVALID_ID")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_payments_are_read_only(client, method):
    PaymentFactory(order_id=17)

    response = getattr(client, method)("/payments/17", {}, format="json")

    assert_json_error(response, 405, "METHOD_NOT_ALLOWED")


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_customer_sees_the_payment_of_their_own_order_only(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    PaymentFactory(order_id=17, user_id=alice.pk)
    PaymentFactory(order_id=18, user_id=bob.pk)

    assert logged_in(alice).get("/payments/17").json()["order_id"] == 17
    # Another customer's payment is not there for them, exactly like a payment that does not exist.
    assert_json_error(logged_in(alice).get("/payments/18"), 404, "NOT_FOUND")
    assert_json_error(logged_in(alice).get("/payments/19"), 404, "NOT_FOUND")


@pytest.mark.django_db(databases=PAYMENTS_DB)
def test_a_payment_from_before_customers_is_staff_only(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    PaymentFactory(order_id=17, user_id=None)

    assert_json_error(logged_in(alice).get("/payments/17"), 404, "NOT_FOUND")
