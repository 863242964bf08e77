"""schemathesis against the API's own OpenAPI schema, in process: no 5xx, every response as documented.

Every operation gets generated requests (valid and invalid bodies, paths and
query strings), sent with the seed operator's bearer token so the staff
operations are reached too. Each response must not be a server error, must use
a documented status code, content type and headers, must match the documented
schema, the API must accept what the schema allows and refuse what it does not,
and an operation that declares the bearer scheme must refuse a call without it.
"""

import re
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from apps.accounts.services import token_create
from apps.orders.apis import IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN
from config.wsgi import application

EXAMPLES = 250

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def staff_headers(operator, settings):
    """The operator's token; the throttles are off, so that generated requests reach the views."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]),
    }

    def headers():
        return {"Authorization": f"Bearer {token_create(user=operator)[0]}"}

    shared = headers()
    # POST /auth/logout deletes the token it carries: it gets one of its own each time.
    return lambda case: headers() if case.path == "/auth/logout" else shared


@pytest.mark.django_db(databases=["default", "orders", "inventory", "payments"], transaction=True)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case, staff_headers):
    key = (case.headers or {}).get(IDEMPOTENCY_KEY_HEADER)
    if key is not None and re.match(IDEMPOTENCY_KEY_PATTERN, key):
        # Two generated bodies under one generated key are a (documented, 422) conflict, not bad input.
        case.headers[IDEMPOTENCY_KEY_HEADER] = uuid.uuid4().hex
    positive = case._meta is None or case._meta.generation.mode.is_positive
    if positive and case.operation.path == "/orders" and case.method == "POST" and isinstance(case.body, dict):
        _one_meaning(case.body)
    case.call_and_validate(headers=staff_headers(case))


def _one_meaning(body: dict) -> None:
    """What the schema cannot say of an order body: each product once, and one total if two are sent.

    Duplicated products and two different totals are refused with 400 as documented; here the
    generated body is made to mean one thing, so the check is that such a body is accepted.
    """
    lines = body.get("lines")
    if isinstance(lines, list) and all(isinstance(line, dict) for line in lines):
        seen = set()
        body["lines"] = [
            line for line in lines if line.get("product_id") not in seen and not seen.add(line.get("product_id"))
        ]
    if "expected_total" in body and "total_amount" in body:
        body["total_amount"] = body["expected_total"]
