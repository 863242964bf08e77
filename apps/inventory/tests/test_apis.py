"""The inventory HTTP API: POST /inventory, GET and PUT /inventory/{product_id}."""

import base64
import json

import pytest
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error
from apps.inventory.models import Inventory
from apps.inventory.tests.factories import InventoryFactory

INVENTORY_DB = ["inventory"]
INVENTORY_AND_USERS_DB = ["default", "inventory"]


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def staff_client(django_user_model):
    staff = django_user_model.objects.create_user("operator", password="operator-password", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture
def member_client(django_user_model):
    member = django_user_model.objects.create_user("member", password="member-password")
    client = APIClient()
    client.force_authenticate(member)
    return client


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_with_http_basic_auth(client, django_user_model):
    django_user_model.objects.create_user("operator", password="operator-password", is_staff=True)
    client.credentials(HTTP_AUTHORIZATION=basic_auth("operator", "operator-password"))

    response = client.post("/inventory", {"product_id": 42, "available_qty": 10}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["product_id"], body["available_qty"], body["reserved_qty"], body["version"]) == (42, 10, 0, 1)
    assert response["ETag"] == '"1"'
    stored = Inventory.objects.using("inventory").get(product_id=42)
    assert (stored.available_qty, stored.reserved_qty, stored.version) == (10, 0, 1)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_with_wrong_password_is_401(client, django_user_model):
    django_user_model.objects.create_user("operator", password="operator-password", is_staff=True)
    client.credentials(HTTP_AUTHORIZATION=basic_auth("operator", "wrong"))

    response = client.post("/inventory", {"product_id": 42, "available_qty": 10}, format="json")

    assert_json_error(response, 401, "UNAUTHORIZED")
    assert not Inventory.objects.using("inventory").exists()


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_duplicate_inventory_is_409(staff_client):
    InventoryFactory(product_id=42, available_qty=10)

    response = staff_client.post("/inventory", {"product_id": 42, "available_qty": 99}, format="json")

    assert_json_error(response, 409, "ALREADY_EXISTS")
    assert Inventory.objects.using("inventory").get(product_id=42).available_qty == 10


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_refuses_anonymous_clients(client):
    response = client.post("/inventory", {"product_id": 42, "available_qty": 10}, format="json")

    assert response.status_code in (401, 403)
    assert_json_error(response, response.status_code)
    assert not Inventory.objects.using("inventory").exists()


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_refuses_non_staff_users(member_client):
    response = member_client.post("/inventory", {"product_id": 42, "available_qty": 10}, format="json")

    assert_json_error(response, 403, "FORBIDDEN")
    assert not Inventory.objects.using("inventory").exists()


@pytest.mark.parametrize(
    "raw_body",
    [
        pytest.param('{"product_id": 42,', id="malformed-json"),
        pytest.param("[42, 10]", id="json-list"),
        pytest.param('"stock"', id="json-string"),
        pytest.param("{}", id="missing-everything"),
        pytest.param('{"product_id": 42}', id="missing-available_qty"),
        pytest.param('{"available_qty": 10}', id="missing-product_id"),
        pytest.param('{"product_id": "abc", "available_qty": 10}', id="product_id-string"),
        pytest.param('{"product_id": true, "available_qty": 10}', id="product_id-bool"),
        pytest.param('{"product_id": 0, "available_qty": 10}', id="product_id-zero"),
        pytest.param('{"product_id": 42, "available_qty": -1}', id="available_qty-negative"),
        pytest.param('{"product_id": 42, "available_qty": 2.5}', id="available_qty-float"),
        pytest.param('{"product_id": 42, "available_qty": 1000000000001}', id="available_qty-absurd"),
        pytest.param('{"product_id": 42, "available_qty": NaN}', id="available_qty-nan-literal"),
    ],
)
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_rejects_bad_input_with_json_400(staff_client, raw_body):
    response = staff_client.generic("POST", "/inventory", raw_body, content_type="application/json")

    assert_json_error(response, 400, "INVALID_REQUEST")
    assert not Inventory.objects.using("inventory").exists()


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_with_text_plain_is_415(staff_client):
    response = staff_client.generic(
        "POST", "/inventory", json.dumps({"product_id": 42, "available_qty": 10}), content_type="text/plain"
    )

    assert_json_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_get_inventory_carries_its_version_as_etag(client):
    InventoryFactory(product_id=42, available_qty=7, reserved_qty=3, version=5)

    response = client.get("/inventory/42")

    assert response.status_code == 200
    assert response["ETag"] == '"5"'
    body = response.json()
    assert (body["product_id"], body["available_qty"], body["reserved_qty"], body["version"]) == (42, 7, 3, 5)


@pytest.mark.django_db(databases=INVENTORY_DB)
def test_get_unknown_inventory_is_404(client):
    InventoryFactory(product_id=42)

    response = client.get("/inventory/43")

    assert_json_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", str(2**63)])
@pytest.mark.django_db(databases=INVENTORY_DB)
def test_get_inventory_with_invalid_id_is_400(client, raw_id):
    response = client.get(f"/inventory/{raw_id}")

    assert_json_error(response, 400, "INVALID_ID")


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_with_matching_if_match(staff_client):
    InventoryFactory(product_id=42, available_qty=7, version=3)

    response = staff_client.put("/inventory/42", {"available_qty": 50}, format="json", HTTP_IF_MATCH='"3"')

    assert response.status_code == 200
    assert response.json()["available_qty"] == 50
    assert response["ETag"] == '"4"'
    stored = Inventory.objects.using("inventory").get(product_id=42)
    assert (stored.available_qty, stored.version) == (50, 4)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_with_stale_if_match_is_412(staff_client):
    InventoryFactory(product_id=42, available_qty=7, version=4)

    response = staff_client.put("/inventory/42", {"available_qty": 50}, format="json", HTTP_IF_MATCH='"3"')

    assert_json_error(response, 412, "VERSION_CONFLICT")
    stored = Inventory.objects.using("inventory").get(product_id=42)
    assert (stored.available_qty, stored.version) == (7, 4)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_with_the_etag_it_read(client, staff_client):
    InventoryFactory(product_id=42, available_qty=7)
    etag = client.get("/inventory/42")["ETag"]

    first = staff_client.put("/inventory/42", {"available_qty": 8}, format="json", HTTP_IF_MATCH=etag)
    second = staff_client.put("/inventory/42", {"available_qty": 9}, format="json", HTTP_IF_MATCH=etag)

    assert first.status_code == 200
    assert_json_error(second, 412, "VERSION_CONFLICT")
    assert Inventory.objects.using("inventory").get(product_id=42).available_qty == 8


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_without_if_match_sets_the_stock(staff_client):
    InventoryFactory(product_id=42, available_qty=7, version=2)

    response = staff_client.put("/inventory/42", {"available_qty": 0}, format="json")

    assert response.status_code == 200
    stored = Inventory.objects.using("inventory").get(product_id=42)
    assert (stored.available_qty, stored.version) == (0, 3)


@pytest.mark.parametrize("if_match", ["abc", '"-1"', '"1.5"', 'W/"x"', '""'])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_with_unreadable_if_match_is_400(staff_client, if_match):
    InventoryFactory(product_id=42, available_qty=7)

    response = staff_client.put("/inventory/42", {"available_qty": 50}, format="json", HTTP_IF_MATCH=if_match)

    assert_json_error(response, 400, "INVALID_REQUEST")
    assert Inventory.objects.using("inventory").get(product_id=42).available_qty == 7


@pytest.mark.parametrize(
    "raw_body",
    [
        pytest.param('{"available_qty": ', id="malformed-json"),
        pytest.param("[50]", id="json-list"),
        pytest.param("{}", id="missing-available_qty"),
        pytest.param('{"available_qty": -1}', id="negative"),
        pytest.param('{"available_qty": "fifty"}', id="string"),
        pytest.param('{"available_qty": 2.5}', id="float"),
        pytest.param('{"available_qty": null}', id="null"),
    ],
)
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_rejects_bad_input_with_json_400(staff_client, raw_body):
    InventoryFactory(product_id=42, available_qty=7)

    response = staff_client.generic("PUT", "/inventory/42", raw_body, content_type="application/json")

    assert_json_error(response, 400, "INVALID_REQUEST")
    assert Inventory.objects.using("inventory").get(product_id=42).available_qty == 7


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_unknown_inventory_is_404(staff_client):
    response = staff_client.put("/inventory/42", {"available_qty": 5}, format="json")

    assert_json_error(response, 404, "NOT_FOUND")
    assert not Inventory.objects.using("inventory").exists()


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_refuses_non_staff_users(member_client):
    InventoryFactory(product_id=42, available_qty=7)

    response = member_client.put("/inventory/42", {"available_qty": 50}, format="json")

    assert_json_error(response, 403, "FORBIDDEN")
    assert Inventory.objects.using("inventory").get(product_id=42).available_qty == 7


@pytest.mark.parametrize(("method", "path"), [("patch", "/inventory/42"), ("delete", "/inventory/42")])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_unsupported_inventory_methods_are_405(staff_client, method, path):
    InventoryFactory(product_id=42, available_qty=7)

    response = getattr(staff_client, method)(path, {"available_qty": 1}, format="json")

    assert_json_error(response, 405, "METHOD_NOT_ALLOWED")
    assert Inventory.objects.using("inventory").get(product_id=42).available_qty == 7
