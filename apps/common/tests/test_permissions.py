"""Who may call what: API_REQUIRE_AUTHENTICATION (production) and the staff-only endpoints."""

import pytest
from django.apps import apps
from django.conf import settings
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error

ALL_DATABASES = list(settings.DATABASES)
# A customer's order: for themselves, priced by the catalog.
ORDER = {"product_id": 42, "quantity": 1}


@pytest.fixture
def login_required(settings):
    settings.API_REQUIRE_AUTHENTICATION = True


@pytest.fixture
def member_client(django_user_model):
    member = django_user_model.objects.create_user("member", password="member-password")
    client = APIClient()
    client.force_authenticate(member)
    return client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/orders/1"),
        ("get", "/orders"),
        ("get", "/inventory/1"),
        ("get", "/payments/1"),
        ("post", "/orders"),
    ],
)
@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.usefixtures("login_required")
def test_login_required_refuses_anonymous_clients(method, path):
    response = getattr(APIClient(), method)(path, ORDER if method == "post" else None, format="json")

    assert response.status_code in (401, 403)
    assert_json_error(response, response.status_code)
    assert not apps.get_model("orders", "Order").objects.exists()


@pytest.mark.parametrize("path", ["/health", "/ready"])
@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.usefixtures("login_required")
def test_login_required_leaves_probes_open(path):
    response = APIClient().get(path)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/products", "/products/1"])
@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.usefixtures("login_required")
def test_login_required_leaves_the_catalog_open(path):
    apps.get_model("inventory", "Inventory").objects.create(product_id=1, available_qty=0)

    response = APIClient().get(path)

    assert response.status_code == 200
    assert "available_qty" not in str(response.json())


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.usefixtures("login_required")
def test_login_required_lets_a_logged_in_user_place_an_order(member_client):
    response = member_client.post("/orders", ORDER, format="json")

    assert response.status_code == 201
    assert apps.get_model("orders", "Order").objects.filter(pk=response.json()["order_id"]).exists()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/sagas", None),
        ("get", "/sagas/00000000-0000-0000-0000-000000000001", None),
        ("post", "/inventory", {"product_id": 42, "available_qty": 10}),
        ("put", "/inventory/42", {"available_qty": 10}),
    ],
)
@pytest.mark.django_db(databases=ALL_DATABASES)
def test_staff_endpoints_refuse_non_staff_users(member_client, method, path, body):
    response = getattr(member_client, method)(path, body, format="json")

    assert_json_error(response, 403, "FORBIDDEN")
    assert not apps.get_model("inventory", "Inventory").objects.exists()
