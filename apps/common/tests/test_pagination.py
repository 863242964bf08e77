"""limit and offset are checked like any other input, and documented with their bounds."""

import pytest
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error


@pytest.mark.django_db(databases=["default", "orders"])
@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=501", "offset=-1", "offset=null", "limit=1e3"])
def test_a_bad_limit_or_offset_is_refused(api_client, query):
    assert_json_error(api_client.get(f"/orders?{query}"), 400, "INVALID_REQUEST")


@pytest.mark.django_db(databases=["default", "orders"])
def test_limit_and_offset_within_bounds_page_the_list(api_client):
    response = api_client.get("/orders?limit=500&offset=0")

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.django_db
def test_the_schema_gives_ids_and_paging_their_bounds():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    parameters = {
        (path, parameter["name"]): parameter["schema"]
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
    }

    assert parameters[("/orders/{order_id}", "order_id")]["minimum"] == 1
    assert parameters[("/inventory/{product_id}", "product_id")]["type"] == "integer"
    assert parameters[("/sagas/{saga_id}", "saga_id")]["format"] == "uuid"
    assert parameters[("/orders", "limit")] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert parameters[("/orders", "Idempotency-Key")]["maxLength"] == 255
