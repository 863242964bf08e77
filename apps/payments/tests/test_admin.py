"""The payments admin: a read-only changelist."""

import pytest

from apps.payments.models import PaymentStatus
from apps.payments.tests.factories import PaymentFactory

PAYMENTS_AND_USERS_DB = ["default", "payments"]


@pytest.mark.django_db(databases=PAYMENTS_AND_USERS_DB)
def test_payment_changelist_filtered_by_status(admin_client):
    failed = PaymentFactory(status=PaymentStatus.FAILED)
    PaymentFactory()

    response = admin_client.get("/admin/payments/payment/", {"status": "FAILED"})

    assert response.status_code == 200
    assert [payment.pk for payment in response.context["cl"].result_list] == [failed.pk]


@pytest.mark.parametrize("term", ["txn-00000001", "abc", "17"])
@pytest.mark.django_db(databases=PAYMENTS_AND_USERS_DB)
def test_payment_search_never_fails(admin_client, term):
    PaymentFactory(order_id=17)

    response = admin_client.get("/admin/payments/payment/", {"q": term})

    assert response.status_code == 200


@pytest.mark.django_db(databases=PAYMENTS_AND_USERS_DB)
def test_payments_cannot_be_added_from_the_admin(admin_client):
    response = admin_client.get("/admin/payments/payment/add/")

    assert response.status_code == 403
