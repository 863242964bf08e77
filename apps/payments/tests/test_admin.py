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


@pytest.mark.django_db(databases=PAYMENTS_AND_USERS_DB)
def test_a_payment_links_back_to_its_order_and_saga(admin_client):
    payment = PaymentFactory(order_id=17)

    listed = admin_client.get("/admin/payments/payment/", {"order_id": 17}).content.decode()
    page = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()

    for html in (listed, page):
        assert 'href="/admin/orders/order/17/change/"' in html
        assert f'href="/admin/orders/sagastate/{payment.saga_id}/change/"' in html
    assert 'href="/admin/inventory/inventorylog/?order_id=17"' in page


@pytest.mark.django_db(databases=PAYMENTS_AND_USERS_DB)
def test_a_payment_without_a_saga_id_links_to_its_orders_sagas(admin_client):
    PaymentFactory(order_id=17, saga_id=None)

    html = admin_client.get("/admin/payments/payment/").content.decode()

    assert 'href="/admin/orders/sagastate/?order_id=17"' in html


@pytest.mark.django_db(databases=PAYMENTS_AND_USERS_DB)
def test_the_payments_list_filters_by_order_and_finds_by_saga_id(admin_client):
    wanted, other = PaymentFactory(order_id=17), PaymentFactory(order_id=18)

    by_order = admin_client.get("/admin/payments/payment/", {"order_id": 17})
    by_saga = admin_client.get("/admin/payments/payment/", {"q": str(wanted.saga_id)})

    assert [row.pk for row in by_order.context["cl"].result_list] == [wanted.pk]
    assert [row.pk for row in by_saga.context["cl"].result_list] == [wanted.pk]
    assert other.pk not in [row.pk for row in by_saga.context["cl"].result_list]
