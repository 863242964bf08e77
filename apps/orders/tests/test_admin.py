"""The orders admin: read-only changelists for orders and sagas."""

import pytest

from apps.orders.models import SagaStatus, SagaStep
from apps.orders.tests.factories import OrderFactory, SagaStateFactory

ORDERS_AND_USERS_DB = ["default", "orders"]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_order_changelist(admin_client):
    order = OrderFactory(user_id=7)

    response = admin_client.get("/admin/orders/order/")

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [order.pk]


@pytest.mark.parametrize("term", ["7", "abc", "1.5", "-1", "99999999999999999999999"])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_order_search_never_fails(admin_client, term):
    OrderFactory(user_id=7)

    response = admin_client.get("/admin/orders/order/", {"q": term})

    assert response.status_code == 200


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_saga_changelist_filtered_by_status(admin_client):
    completed = SagaStateFactory(status=SagaStatus.COMPLETED, current_step=SagaStep.DONE)
    SagaStateFactory()

    response = admin_client.get("/admin/orders/sagastate/", {"status": "COMPLETED"})

    assert response.status_code == 200
    assert [saga.pk for saga in response.context["cl"].result_list] == [completed.pk]


@pytest.mark.parametrize("term", ["not-a-uuid", "abc", "12", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"])
@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_saga_search_with_a_non_uuid_term_does_not_fail(admin_client, term):
    SagaStateFactory()

    response = admin_client.get("/admin/orders/sagastate/", {"q": term})

    assert response.status_code == 200


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_saga_search_finds_a_saga_by_its_id(admin_client):
    wanted = SagaStateFactory()
    SagaStateFactory()

    response = admin_client.get("/admin/orders/sagastate/", {"q": str(wanted.saga_id)})

    assert response.status_code == 200
    assert [saga.pk for saga in response.context["cl"].result_list] == [wanted.pk]


@pytest.mark.django_db(databases=ORDERS_AND_USERS_DB)
def test_saga_detail_is_read_only(admin_client):
    saga = SagaStateFactory()

    page = admin_client.get(f"/admin/orders/sagastate/{saga.pk}/change/")
    post = admin_client.post(f"/admin/orders/sagastate/{saga.pk}/change/", {"status": "COMPLETED"})

    assert page.status_code == 200
    assert post.status_code == 403
    saga.refresh_from_db()
    assert saga.status == SagaStatus.IN_PROGRESS
