"""The OpenAPI document, its UI and the admin login page."""

import json
import re

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error

API_PATHS = {
    "/orders": {"get", "post"},
    "/orders/{order_id}": {"get"},
    "/orders/{order_id}/cancel": {"post"},
    "/inventory": {"post"},
    "/inventory/{product_id}": {"get", "put"},
    "/products": {"get"},
    "/products/{product_id}": {"get"},
    "/payments/{order_id}": {"get"},
    "/sagas": {"get"},
    "/sagas/{saga_id}": {"get"},
    "/health": {"get"},
    "/ready": {"get"},
    "/auth/token": {"post"},
    "/auth/logout": {"post"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def resolve(schema: dict, node: dict) -> dict:
    """Follow a ``$ref`` into components/schemas."""
    ref = node.get("$ref")
    if ref is None:
        return node
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def request_properties(schema: dict, path: str, method: str) -> set[str]:
    body = resolve(schema, schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])
    # A body of several shapes (oneOf) accepts the properties of each.
    return set().union(*(shape["properties"] for shape in body.get("oneOf", [body])))


def response_properties(schema: dict, path: str, method: str, status: str = "200") -> set[str]:
    body = schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return set(resolve(schema, body)["properties"])


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


def test_schema_generates_without_warnings_and_validates(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_schema_lists_every_endpoint_with_its_methods(schema):
    documented = {
        path: set(operations) & {"get", "post", "put", "patch", "delete"}
        for path, operations in schema["paths"].items()
    }

    assert documented == API_PATHS


def test_schema_operation_ids_are_unique(schema):
    operation_ids = [op["operationId"] for operations in schema["paths"].values() for op in operations.values()]

    assert len(operation_ids) == len(set(operation_ids))


@pytest.mark.parametrize(
    ("path", "method", "properties"),
    [
        ("/orders", "post", {"lines", "user_id", "product_id", "quantity", "expected_total", "total_amount"}),
        ("/inventory", "post", {"product_id", "available_qty", "name", "unit_price", "currency"}),
        ("/inventory/{product_id}", "put", {"available_qty", "name", "unit_price", "currency"}),
    ],
)
def test_schema_documents_each_request_body(schema, path, method, properties):
    assert request_properties(schema, path, method) == properties


def test_an_order_body_is_lines_or_the_seed_single_product(schema):
    body = resolve(schema, schema["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    by_lines, by_product = body["oneOf"]
    assert (by_lines["required"], by_product["required"]) == (["lines"], ["product_id", "quantity"])
    assert (by_lines["properties"]["lines"]["minItems"], by_lines["properties"]["lines"]["maxItems"]) == (1, 50)


@pytest.mark.parametrize(
    ("path", "method", "status", "properties"),
    [
        ("/orders", "post", "201", {"order_id", "saga_id", "status"}),
        ("/orders", "get", "200", {"count", "next", "previous", "orders"}),
        ("/sagas", "get", "200", {"count", "next", "previous", "sagas"}),
        ("/sagas/{saga_id}", "get", "200", {"saga", "order", "history"}),
        (
            "/payments/{order_id}",
            "get",
            "200",
            {
                "order_id",
                "amount",
                "status",
                "transaction_id",
                "failure_reason",
                "refund_id",
                "refunded_at",
                "created_at",
                "updated_at",
            },
        ),
        (
            "/inventory/{product_id}",
            "get",
            "200",
            {
                "product_id",
                "available_qty",
                "reserved_qty",
                "sold_qty",
                "version",
                "created_at",
                "updated_at",
                "name",
                "unit_price",
                "currency",
            },
        ),
        ("/products", "get", "200", {"count", "next", "previous", "products"}),
        ("/products/{product_id}", "get", "200", {"product_id", "name", "unit_price", "currency", "available"}),
        ("/orders/{order_id}", "get", "404", {"error", "code"}),
    ],
)
def test_schema_documents_each_response_body(schema, path, method, status, properties):
    assert response_properties(schema, path, method, status) == properties


@pytest.mark.django_db
def test_swagger_ui_renders():
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_admin_login_page_renders():
    response = Client().get("/admin/login/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'name="username"' in response.content


@pytest.mark.django_db
def test_admin_index_lists_every_domain_model(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    for changelist in (
        "/admin/orders/order/",
        "/admin/orders/sagastate/",
        "/admin/inventory/inventory/",
        "/admin/inventory/inventorylog/",
        "/admin/payments/payment/",
    ):
        assert changelist.encode() in response.content


def test_schema_documents_money_as_a_decimal_string(schema):
    product = resolve(
        schema,
        schema["paths"]["/products/{product_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
    )
    price_input = resolve(
        schema, schema["paths"]["/inventory"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )

    assert product["properties"]["unit_price"]["type"] == "string"
    assert product["properties"]["unit_price"]["nullable"] is True
    assert price_input["properties"]["unit_price"]["pattern"].startswith("^")
    assert set(resolve(schema, product)["required"]) >= {"product_id", "unit_price", "available"}


def test_schema_lets_anyone_read_the_catalog(schema):
    for path in ("/products", "/products/{product_id}"):
        assert {} in schema["paths"][path]["get"]["security"]


def test_schema_declares_the_bearer_scheme(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"]["type"] == "http"
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "basicAuth" not in schema["components"]["securitySchemes"]
    assert {"bearerAuth": []} in schema["paths"]["/orders"]["post"]["security"]


PUBLIC_OPERATIONS = {
    ("/health", "get"),
    ("/ready", "get"),
    ("/products", "get"),
    ("/products/{product_id}", "get"),
    ("/auth/token", "post"),
}


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_schema_documents_401_on_every_endpoint_that_needs_a_login(schema):
    needing = {(path, method) for path, method, operation in operations(schema) if "401" in operation["responses"]}

    assert needing == {(path, method) for path, method, _ in operations(schema)} - PUBLIC_OPERATIONS | {
        ("/auth/token", "post")
    }


def test_schema_documents_403_where_staff_permissions_are_needed(schema):
    forbidding = {(path, method) for path, method, operation in operations(schema) if "403" in operation["responses"]}

    assert forbidding == {
        ("/inventory", "post"),
        ("/inventory/{product_id}", "get"),
        ("/inventory/{product_id}", "put"),
        ("/sagas", "get"),
        ("/sagas/{saga_id}", "get"),
    }


def test_schema_documents_429_with_retry_after_where_throttled(schema):
    throttled = {(path, method) for path, method, operation in operations(schema) if "429" in operation["responses"]}

    assert throttled == {("/orders", "post"), ("/auth/token", "post")}
    for path, method in throttled:
        assert "Retry-After" in schema["paths"][path][method]["responses"]["429"]["headers"]


DOCS = ["/api/schema/", "/api/docs/"]


@pytest.mark.parametrize("path", DOCS)
@pytest.mark.django_db(databases=["default"])
def test_without_api_docs_public_anonymous_callers_get_401_json(settings, path):
    settings.API_DOCS_PUBLIC = False

    response = APIClient().get(path, HTTP_ACCEPT="text/html,*/*")

    assert_json_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", DOCS)
@pytest.mark.django_db(databases=["default"])
def test_without_api_docs_public_customers_get_403_json(settings, customer, bearer_client, path):
    settings.API_DOCS_PUBLIC = False

    assert_json_error(bearer_client(customer).get(path), 403, "PERMISSION_DENIED")


@pytest.mark.django_db(databases=["default"])
def test_without_api_docs_public_staff_read_the_schema_by_bearer_token(settings, staff_user, bearer_client):
    settings.API_DOCS_PUBLIC = False

    response = bearer_client(staff_user).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


@pytest.mark.django_db(databases=["default"])
def test_without_api_docs_public_staff_open_the_ui_and_the_schema_with_their_admin_session(settings, staff_user):
    settings.API_DOCS_PUBLIC = False
    browser = Client()
    browser.force_login(staff_user)

    page = browser.get("/api/docs/", HTTP_ACCEPT="text/html")
    document = browser.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert (page.status_code, document.status_code) == (200, 200)
    assert b"swagger" in page.content.lower()
    assert json.loads(document.content)["paths"]


def query_parameters(schema: dict, path: str) -> dict[str, dict]:
    return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}


ORDERINGS = {"created_at", "-created_at", "id", "-id"}


def test_the_orders_list_documents_its_filters_with_their_values(schema):
    parameters = query_parameters(schema, "/orders")

    assert set(parameters) == {"status", "created_after", "created_before", "ordering", "user_id", "limit", "offset"}
    assert set(parameters["status"]["schema"]["enum"]) == {
        "PENDING",
        "CONFIRMED",
        "FAILED",
        "COMPENSATED",
        "CANCELLING",
        "CANCELLED",
    }
    assert set(parameters["ordering"]["schema"]["enum"]) == ORDERINGS
    for name in ("created_after", "created_before"):
        assert parameters[name]["schema"] == {"type": "string", "format": "date-time"}
    assert all(parameter.get("description") for parameter in parameters.values())


def test_the_sagas_list_documents_its_filters_with_their_values(schema):
    parameters = query_parameters(schema, "/sagas")

    assert set(parameters) == {
        "status",
        "type",
        "stuck",
        "order_id",
        "created_after",
        "created_before",
        "ordering",
        "limit",
        "offset",
    }
    assert set(parameters["status"]["schema"]["enum"]) == {
        "IN_PROGRESS",
        "COMPENSATING",
        "COMPLETED",
        "COMPENSATED",
        "FAILED",
        "RESOLVED",
    }
    assert set(parameters["type"]["schema"]["enum"]) == {"placement", "cancellation"}
    assert set(parameters["ordering"]["schema"]["enum"]) == ORDERINGS


@pytest.mark.parametrize(
    ("component", "links"),
    [("OrderOutput", {"saga_url", "payment_url"}), ("SagaOutput", {"order_url", "payment_url"})],
)
def test_orders_and_sagas_document_their_links_as_uris(schema, component, links):
    properties = schema["components"]["schemas"][component]["properties"]

    assert {name for name, field in properties.items() if field.get("format") == "uri"} == links


# Words of the code, not of the API: what a description holding one speaks of is for the developers.
INTERNAL_WORDS = re.compile(r"(?<![a-z])(seed|µs|``|serializers?|drf|manage\.py|todo|tables?|django)(?![a-z])")


def descriptions(node, where: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary", "title") and isinstance(value, str):
                yield f"{where}/{key}", value
            yield from descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from descriptions(value, f"{where}[{index}]")


def test_no_description_speaks_of_the_code(schema):
    internal = [(where, text) for where, text in descriptions(schema) if INTERNAL_WORDS.search(text.lower())]

    assert internal == []
