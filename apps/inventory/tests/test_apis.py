"""The inventory HTTP API: POST /inventory, GET and PUT /inventory/{product_id}, GET /products[/{product_id}]."""

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error
from apps.inventory.models import Inventory
from apps.inventory.tests.factories import InventoryFactory

INVENTORY_AND_USERS_DB = ["default", "inventory"]


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def staff_client(api_client):
    """The operator: adds, changes and reads stock."""
    return api_client


@pytest.fixture
def member_client(customer):
    client = APIClient()
    client.force_authenticate(customer)
    return client


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_with_a_bearer_token(operator, bearer_client):
    client = bearer_client(operator)

    response = client.post("/inventory", {"product_id": 42, "available_qty": 10}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["product_id"], body["available_qty"], body["reserved_qty"], body["version"]) == (42, 10, 0, 1)
    assert response["ETag"] == '"1"'
    stored = Inventory.objects.using("inventory").get(product_id=42)
    assert (stored.available_qty, stored.reserved_qty, stored.version) == (10, 0, 1)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_with_an_unknown_token_is_401(client, operator):
    client.credentials(HTTP_AUTHORIZATION="Bearer " + "0" * 64)

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

    assert_json_error(response, 401, "UNAUTHORIZED")
    assert not Inventory.objects.using("inventory").exists()


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_refuses_customers(member_client):
    response = member_client.post("/inventory", {"product_id": 42, "available_qty": 10}, format="json")

    assert_json_error(response, 403, "PERMISSION_DENIED")
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


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_get_inventory_carries_its_version_as_etag(staff_client):
    InventoryFactory(product_id=42, available_qty=7, reserved_qty=3, version=5)

    response = staff_client.get("/inventory/42")

    assert response.status_code == 200
    assert response["ETag"] == '"5"'
    body = response.json()
    assert (body["product_id"], body["available_qty"], body["reserved_qty"], body["version"]) == (42, 7, 3, 5)


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_get_unknown_inventory_is_404(staff_client):
    InventoryFactory(product_id=42)

    response = staff_client.get("/inventory/43")

    assert_json_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", str(2**63)])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_get_inventory_with_invalid_id_is_400(staff_client, raw_id):
    response = staff_client.get(f"/inventory/{raw_id}")

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
def test_put_inventory_with_the_etag_it_read(staff_client):
    InventoryFactory(product_id=42, available_qty=7)
    etag = staff_client.get("/inventory/42")["ETag"]

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
def test_put_inventory_refuses_customers(member_client):
    InventoryFactory(product_id=42, available_qty=7)

    response = member_client.put("/inventory/42", {"available_qty": 50}, format="json")

    assert_json_error(response, 403, "PERMISSION_DENIED")
    assert Inventory.objects.using("inventory").get(product_id=42).available_qty == 7


@pytest.mark.parametrize(("method", "path"), [("patch", "/inventory/42"), ("delete", "/inventory/42")])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_unsupported_inventory_methods_are_405(staff_client, method, path):
    InventoryFactory(product_id=42, available_qty=7)

    response = getattr(staff_client, method)(path, {"available_qty": 1}, format="json")

    assert_json_error(response, 405, "METHOD_NOT_ALLOWED")
    assert Inventory.objects.using("inventory").get(product_id=42).available_qty == 7


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_with_its_catalog_entry(staff_client):
    response = staff_client.post(
        "/inventory",
        {"product_id": 42, "available_qty": 10, "name": "Lamp", "unit_price": "12.30", "currency": "EUR"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["unit_price"], body["currency"]) == ("Lamp", "12.30", "EUR")
    stored = Inventory.objects.using("inventory").get(product_id=42)
    assert (stored.name, stored.unit_price, stored.currency) == ("Lamp", Decimal("12.30"), "EUR")


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_as_the_seed_does_answers_its_old_fields_and_no_price(staff_client):
    response = staff_client.post("/inventory", {"product_id": 42, "available_qty": 10}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert {"product_id", "available_qty", "reserved_qty", "sold_qty", "version", "created_at", "updated_at"} <= set(
        body
    )
    assert (body["name"], body["unit_price"], body["currency"]) == ("", None, "USD")


@pytest.mark.parametrize(("sent", "stored"), [(24.5, "24.50"), ("24.5", "24.50"), ("0.01", "0.01"), (7, "7.00")])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_a_price_may_be_a_decimal_string_or_a_number(staff_client, sent, stored):
    response = staff_client.post(
        "/inventory", {"product_id": 42, "available_qty": 1, "unit_price": sent}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["unit_price"] == stored
    assert Inventory.objects.using("inventory").get(product_id=42).unit_price == Decimal(stored)


@pytest.mark.parametrize(
    "catalog_fields",
    [
        pytest.param('"unit_price": 0', id="price-zero"),
        pytest.param('"unit_price": "-1.00"', id="price-negative"),
        pytest.param('"unit_price": "1.999"', id="price-three-decimals"),
        pytest.param('"unit_price": "12345678901.00"', id="price-too-large"),
        pytest.param('"unit_price": "ten"', id="price-text"),
        pytest.param('"unit_price": NaN', id="price-nan"),
        pytest.param('"unit_price": null', id="price-null"),
        pytest.param('"currency": "usd"', id="currency-lowercase"),
        pytest.param('"currency": "DOLLAR"', id="currency-long"),
        pytest.param('"currency": "USD\\n"', id="currency-trailing-newline"),
        pytest.param('"name": "' + "x" * 201 + '"', id="name-too-long"),
        pytest.param('"name": 5', id="name-number"),
    ],
)
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_create_inventory_rejects_a_bad_catalog_entry_with_json_400(staff_client, catalog_fields):
    raw_body = '{"product_id": 42, "available_qty": 10, ' + catalog_fields + "}"

    response = staff_client.generic("POST", "/inventory", raw_body, content_type="application/json")

    body = assert_json_error(response, 400, "INVALID_REQUEST")
    assert set(body.get("fields", {})) <= {"unit_price", "currency", "name"}
    assert not Inventory.objects.using("inventory").exists()


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_sets_the_price_and_keeps_what_it_does_not_name(staff_client):
    InventoryFactory(product_id=42, name="Lamp", unit_price=Decimal("12.30"), currency="EUR", version=3)

    response = staff_client.put(
        "/inventory/42", {"available_qty": 4, "unit_price": 11}, format="json", HTTP_IF_MATCH='"3"'
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["available_qty"], body["name"], body["unit_price"], body["currency"]) == (4, "Lamp", "11.00", "EUR")
    assert response["ETag"] == '"4"'


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_put_inventory_rejects_a_bad_price_and_changes_nothing(staff_client):
    InventoryFactory(product_id=42, unit_price=Decimal("12.30"), available_qty=7)

    response = staff_client.put("/inventory/42", {"available_qty": 1, "unit_price": "-5"}, format="json")

    assert_json_error(response, 400, "INVALID_REQUEST")
    stored = Inventory.objects.using("inventory").get(product_id=42)
    assert (stored.available_qty, stored.unit_price) == (7, Decimal("12.30"))


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_get_inventory_shows_the_catalog_entry(staff_client):
    InventoryFactory(product_id=42, name="Lamp", unit_price=Decimal("12.30"))

    body = staff_client.get("/inventory/42").json()

    assert (body["name"], body["unit_price"], body["currency"]) == ("Lamp", "12.30", "USD")


PRODUCT_FIELDS = {"product_id", "name", "unit_price", "currency", "available"}


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_products_list_the_catalog_without_stock_counts(client):
    InventoryFactory(product_id=2, name="Gadget", unit_price=None, available_qty=0, reserved_qty=5)
    InventoryFactory(product_id=1, name="Widget", unit_price=Decimal("99.99"), available_qty=3)

    response = client.get("/products")

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert body["products"] == [
        {"product_id": 1, "name": "Widget", "unit_price": "99.99", "currency": "USD", "available": True},
        {"product_id": 2, "name": "Gadget", "unit_price": None, "currency": "USD", "available": False},
    ]


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_products_are_paged(client):
    for product_id in (1, 2, 3):
        InventoryFactory(product_id=product_id)

    body = client.get("/products", {"limit": 2, "offset": 1}).json()

    assert [product["product_id"] for product in body["products"]] == [2, 3]
    assert body["count"] == 3
    assert body["next"] is None
    assert body["previous"] == "http://testserver/products?limit=2"


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "abc"}, {"offset": "-1"}])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_products_with_bad_paging_are_400(client, query):
    response = client.get("/products", query)

    assert_json_error(response, 400, "INVALID_REQUEST")


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_one_product(client):
    InventoryFactory(product_id=42, name="Lamp", unit_price=Decimal("12.30"), available_qty=1)

    response = client.get("/products/42")

    assert response.status_code == 200
    assert response.json() == {
        "product_id": 42,
        "name": "Lamp",
        "unit_price": "12.30",
        "currency": "USD",
        "available": True,
    }


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_unknown_product_is_404(client):
    InventoryFactory(product_id=42)

    assert_json_error(client.get("/products/43"), 404, "NOT_FOUND")


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", str(2**63)])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_product_with_invalid_id_is_400(client, raw_id):
    assert_json_error(client.get(f"/products/{raw_id}"), 400, "INVALID_ID")


@pytest.mark.parametrize("path", ["/products", "/products/42"])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_the_catalog_is_open_to_anonymous_clients(client, path):
    InventoryFactory(product_id=42, available_qty=1)

    response = client.get(path)

    assert response.status_code == 200
    body = response.json()
    product = body["products"][0] if path == "/products" else body
    assert set(product) == PRODUCT_FIELDS


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_stock_counts_stay_closed_to_anonymous_clients(client):
    InventoryFactory(product_id=42, available_qty=1)

    response = client.get("/inventory/42")

    assert_json_error(response, 401, "UNAUTHORIZED")


@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_stock_counts_stay_closed_to_customers(member_client):
    InventoryFactory(product_id=42, available_qty=1)

    response = member_client.get("/inventory/42")

    assert_json_error(response, 403, "PERMISSION_DENIED")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.django_db(databases=INVENTORY_AND_USERS_DB)
def test_the_catalog_is_read_only(staff_client, method):
    InventoryFactory(product_id=42, name="Lamp", available_qty=1)

    response = getattr(staff_client, method)("/products/42", {"name": "Changed"}, format="json")

    assert_json_error(response, 405, "METHOD_NOT_ALLOWED")
    assert Inventory.objects.using("inventory").get(product_id=42).name == "Lamp"
