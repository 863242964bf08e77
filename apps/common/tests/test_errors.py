"""Every error leaves the API as JSON ``{error, code}``: never a 500, never an HTML page."""

import json

import pytest
from django.apps import apps
from django.conf import settings
from django.test import RequestFactory
from rest_framework.test import APIClient

from apps.common.errors import bad_request_view, not_found_view, permission_denied_view, server_error_view
from apps.common.tests.http import assert_json_error

ALL_DATABASES = list(settings.DATABASES)
OVERSIZED_JSON = json.dumps("x" * 100_000)
ORDER = json.dumps({"user_id": 7, "product_id": 42, "quantity": 1, "total_amount": "9.99"})


@pytest.fixture
def staff_client(api_client):
    """The operator, so that permissions never answer before the error under test."""
    return api_client


BAD_REQUESTS = [
    pytest.param("POST", "/orders", "application/json", "{", 400, "INVALID_REQUEST", id="orders-malformed-json"),
    pytest.param("POST", "/orders", "application/json", "[]", 400, "INVALID_REQUEST", id="orders-json-list"),
    pytest.param("POST", "/orders", "application/json", '"x"', 400, "INVALID_REQUEST", id="orders-json-string"),
    pytest.param("POST", "/inventory", "application/json", "{", 400, "INVALID_REQUEST", id="inventory-malformed"),
    pytest.param("POST", "/inventory", "application/json", "[]", 400, "INVALID_REQUEST", id="inventory-json-list"),
    pytest.param("PUT", "/inventory/1", "application/json", "{", 400, "INVALID_REQUEST", id="put-malformed"),
    pytest.param("PUT", "/inventory/1", "application/json", '"x"', 400, "INVALID_REQUEST", id="put-json-string"),
    pytest.param("GET", "/orders/abc", "", "", 400, "INVALID_ID", id="order-id-not-numeric"),
    pytest.param("GET", "/orders?user_id=abc", "", "", 400, "INVALID_ID", id="user-id-not-numeric"),
    pytest.param("GET", "/inventory/abc", "", "", 400, "INVALID_ID", id="product-id-not-numeric"),
    pytest.param("GET", "/payments/abc", "", "", 400, "INVALID_ID", id="payment-order-id-not-numeric"),
    pytest.param("GET", "/sagas/not-a-uuid", "", "", 400, "INVALID_ID", id="saga-id-not-uuid"),
    pytest.param("GET", "/sagas?status=BOGUS", "", "", 400, "INVALID_REQUEST", id="saga-status-unknown"),
    pytest.param("GET", "/orders/999999", "", "", 404, "NOT_FOUND", id="order-unknown"),
    pytest.param("GET", "/inventory/999999", "", "", 404, "NOT_FOUND", id="inventory-unknown"),
    pytest.param("GET", "/payments/999999", "", "", 404, "NOT_FOUND", id="payment-unknown"),
    pytest.param("GET", "/sagas/00000000-0000-0000-0000-000000000001", "", "", 404, "NOT_FOUND", id="saga-unknown"),
    pytest.param("GET", "/no-such-page", "", "", 404, "NOT_FOUND", id="unknown-url"),
    pytest.param("GET", "/orders/1/items", "", "", 404, "NOT_FOUND", id="unknown-sub-url"),
    pytest.param("POST", "/no-such-page", "application/json", "{}", 404, "NOT_FOUND", id="unknown-url-post"),
    pytest.param("DELETE", "/orders/1", "", "", 405, "METHOD_NOT_ALLOWED", id="delete-order"),
    pytest.param("PUT", "/orders", "application/json", "{}", 405, "METHOD_NOT_ALLOWED", id="put-orders"),
    pytest.param("PATCH", "/inventory/1", "application/json", "{}", 405, "METHOD_NOT_ALLOWED", id="patch-inventory"),
    pytest.param("DELETE", "/inventory/1", "", "", 405, "METHOD_NOT_ALLOWED", id="delete-inventory"),
    pytest.param("POST", "/payments/1", "application/json", "{}", 405, "METHOD_NOT_ALLOWED", id="post-payment"),
    pytest.param("DELETE", "/sagas", "", "", 405, "METHOD_NOT_ALLOWED", id="delete-sagas"),
    pytest.param("POST", "/health", "application/json", "{}", 405, "METHOD_NOT_ALLOWED", id="post-health"),
    pytest.param("POST", "/ready", "application/json", "{}", 405, "METHOD_NOT_ALLOWED", id="post-ready"),
    pytest.param("POST", "/orders", "application/json", OVERSIZED_JSON, 413, "PAYLOAD_TOO_LARGE", id="orders-100kb"),
    pytest.param(
        "POST", "/inventory", "application/json", OVERSIZED_JSON, 413, "PAYLOAD_TOO_LARGE", id="inventory-100kb"
    ),
    pytest.param("PUT", "/inventory/1", "application/json", OVERSIZED_JSON, 413, "PAYLOAD_TOO_LARGE", id="put-100kb"),
    pytest.param("POST", "/orders", "text/plain", ORDER, 415, "UNSUPPORTED_MEDIA_TYPE", id="orders-text-plain"),
    pytest.param(
        "POST",
        "/orders",
        "application/x-www-form-urlencoded",
        "user_id=7&product_id=42&quantity=1&total_amount=9.99",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        id="orders-form-encoded",
    ),
    pytest.param("POST", "/inventory", "text/plain", "{}", 415, "UNSUPPORTED_MEDIA_TYPE", id="inventory-text-plain"),
    pytest.param("PUT", "/inventory/1", "text/plain", "{}", 415, "UNSUPPORTED_MEDIA_TYPE", id="put-text-plain"),
]


@pytest.mark.parametrize(("method", "path", "content_type", "body", "status_code", "code"), BAD_REQUESTS)
@pytest.mark.django_db(databases=ALL_DATABASES)
def test_bad_requests_get_a_json_error(staff_client, method, path, content_type, body, status_code, code):
    path, _, query = path.partition("?")
    extra = {"QUERY_STRING": query} if query else {}

    response = staff_client.generic(method, path, body, content_type=content_type or None, **extra)

    assert_json_error(response, status_code, code)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_oversized_body_is_refused_before_anything_is_written():
    response = APIClient().generic("POST", "/orders", ORDER + " " * settings.MAX_REQUEST_BODY_BYTES, "application/json")

    body = assert_json_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["error"].endswith(f"{settings.MAX_REQUEST_BODY_BYTES} bytes.")
    assert not apps.get_model("orders", "Order").objects.exists()


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_body_at_the_size_limit_is_accepted(api_client):
    body = ORDER + " " * (settings.MAX_REQUEST_BODY_BYTES - len(ORDER))

    response = api_client.generic("POST", "/orders", body, content_type="application/json")

    assert len(body) == settings.MAX_REQUEST_BODY_BYTES
    assert response.status_code == 201


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_unreadable_content_length_is_400():
    response = APIClient().generic("POST", "/orders", ORDER, content_type="application/json", CONTENT_LENGTH="many")

    assert_json_error(response, 400, "INVALID_REQUEST")


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_errors_echo_the_request_id(api_client):
    response = api_client.get("/orders/abc", HTTP_X_REQUEST_ID="trace-abc-1")

    assert_json_error(response, 400, "INVALID_ID")
    assert response["X-Request-ID"] == "trace-abc-1"


@pytest.mark.parametrize(
    ("view", "status_code", "code"),
    [
        (bad_request_view, 400, "INVALID_REQUEST"),
        (permission_denied_view, 403, "PERMISSION_DENIED"),
        (not_found_view, 404, "NOT_FOUND"),
        (server_error_view, 500, "INTERNAL_ERROR"),
    ],
)
def test_django_error_handlers_answer_json(view, status_code, code):
    response = view(RequestFactory().get("/anything"))

    assert_json_error(response, status_code, code)
