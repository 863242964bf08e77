"""Who may call what: a login everywhere but the public endpoints, model permissions for staff functions.

Each row of docs/security.md's table names the test here that shows it.
"""

import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error
from apps.inventory.tests.factories import InventoryFactory
from apps.orders.tests.factories import OrderFactory, SagaStateFactory
from tests.surface import documented_surface

ALL_DATABASES = list(settings.DATABASES)
SAGA_ID = uuid.UUID(int=1)
# The operations docs/security.md's anonymous-surface table lets anonymous callers use (not 401).
PUBLIC = {
    tuple(request.lower().split(" ", 1))
    for request, (https, _) in documented_surface().items()
    if https != 401 and request.split(" ", 1)[0] in ("GET", "POST", "PUT", "PATCH", "DELETE")
}
EXAMPLE_IDS = {"{order_id}": "1", "{product_id}": "42", "{saga_id}": str(SAGA_ID)}
ORDER = {"user_id": 7, "product_id": 42, "quantity": 1, "total_amount": "9.99"}
STAFF_ENDPOINTS = [
    pytest.param("get", "/sagas", None, "orders.view_sagastate", id="sagas"),
    pytest.param("get", f"/sagas/{SAGA_ID}", None, "orders.view_sagastate", id="saga"),
    pytest.param("get", "/inventory/42", None, "inventory.view_inventory", id="inventory-read"),
    pytest.param("put", "/inventory/42", {"available_qty": 5}, "inventory.change_inventory", id="inventory-change"),
    pytest.param(
        "post",
        "/inventory",
        {"product_id": 43, "available_qty": 5},
        "inventory.add_inventory inventory.change_inventory",
        id="inventory-add",
    ),
]


def documented_operations() -> list[tuple[str, str]]:
    """Every (method, path) the OpenAPI document lists: a new endpoint is checked without editing this file."""
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    return sorted(
        (method, path)
        for path, methods in schema["paths"].items()
        for method in methods
        if method in ("get", "post", "put", "patch", "delete")
    )


def concrete(path: str) -> str:
    for placeholder, value in EXAMPLE_IDS.items():
        path = path.replace(placeholder, value)
    return path


@pytest.fixture
def staff_data():
    InventoryFactory(product_id=42, available_qty=7)
    SagaStateFactory(saga_id=SAGA_ID)


def grant(user, *names: str):
    for name in names:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)  # a fresh object: the permission cache starts empty


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_anonymous_clients_get_401_on_every_endpoint_but_the_public_ones():
    refused, answered = [], []
    for method, path in documented_operations():
        response = getattr(APIClient(), method)(concrete(path), {}, format="json")
        if (method, path) in PUBLIC:
            answered.append((method, path, response.status_code))
            continue
        assert_json_error(response, 401, "UNAUTHORIZED")
        assert response["WWW-Authenticate"] == "Bearer"
        refused.append((method, path))

    assert len(refused) >= 10, refused
    assert {(method, path) for method, path, _ in answered} == {
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/products"),
        ("get", "/products/{product_id}"),
        ("post", "/auth/token"),
    }
    assert all(status != 401 for _, _, status in answered), answered


@pytest.mark.parametrize("path", ["/health", "/ready", "/products", "/products/42", "/api/schema/", "/api/docs/"])
@pytest.mark.django_db(databases=ALL_DATABASES)
def test_probes_catalog_and_schema_stay_open(path):
    InventoryFactory(product_id=42, available_qty=0)

    response = APIClient().get(path)

    assert response.status_code == 200


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_anonymous_orders_are_refused_before_anything_is_written():
    from apps.orders.models import Order

    response = APIClient().post("/orders", ORDER, format="json")

    assert_json_error(response, 401, "UNAUTHORIZED")
    assert not Order.objects.exists()


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_customer_reads_orders_and_payments_logged_in(customer, bearer_client):
    client = bearer_client(customer)

    assert client.get("/orders").status_code == 200
    assert client.get("/payments/1").status_code == 404


@pytest.mark.parametrize(("method", "path", "body", "permissions"), STAFF_ENDPOINTS)
@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.usefixtures("staff_data")
def test_customers_get_403_on_staff_endpoints(customer, method, path, body, permissions):
    response = getattr(client_for(customer), method)(path, body, format="json")

    assert_json_error(response, 403, "PERMISSION_DENIED")


@pytest.mark.parametrize(("method", "path", "body", "permissions"), STAFF_ENDPOINTS)
@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.usefixtures("staff_data")
def test_staff_without_the_permission_get_403(staff_user, method, path, body, permissions):
    response = getattr(client_for(staff_user), method)(path, body, format="json")

    assert_json_error(response, 403, "PERMISSION_DENIED")


@pytest.mark.parametrize(("method", "path", "body", "permissions"), STAFF_ENDPOINTS)
@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.usefixtures("staff_data")
def test_a_user_with_the_permission_is_let_in(django_user_model, method, path, body, permissions):
    """Not even staff: the permission is what counts."""
    user = grant(django_user_model.objects.create_user("clerk"), *permissions.split())

    response = getattr(client_for(user), method)(path, body, format="json")

    assert response.status_code in (200, 201), response.content


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.usefixtures("staff_data")
def test_each_inventory_permission_opens_only_its_own_method(django_user_model):
    changer = client_for(grant(django_user_model.objects.create_user("changer"), "inventory.change_inventory"))
    viewer = client_for(grant(django_user_model.objects.create_user("viewer"), "inventory.view_inventory"))

    assert changer.put("/inventory/42", {"available_qty": 6}, format="json").status_code == 200
    assert_json_error(changer.get("/inventory/42"), 403, "PERMISSION_DENIED")
    assert_json_error(changer.post("/inventory", {"product_id": 43, "available_qty": 1}, format="json"), 403)
    assert viewer.get("/inventory/42").status_code == 200
    assert_json_error(viewer.put("/inventory/42", {"available_qty": 1}, format="json"), 403, "PERMISSION_DENIED")


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_superuser_holds_every_permission(django_user_model, staff_data):
    admin = django_user_model.objects.create_superuser("root", password="root-password")

    assert client_for(admin).get("/sagas").status_code == 200


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_an_unlisted_method_is_still_405_for_a_permitted_user(operator, staff_data):
    assert_json_error(client_for(operator).delete("/inventory/42"), 405, "METHOD_NOT_ALLOWED")
    assert_json_error(client_for(operator).delete("/sagas"), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_operator_reads_any_order(operator):
    order = OrderFactory(user_id=999)

    assert client_for(operator).get(f"/orders/{order.pk}").status_code == 200
