"""Logins, tokens and limits on the real stack: gunicorn's workers share their counters in Redis."""

import pytest
import redis

from tests.stack import REDIS_URL

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]
LIMIT = 20


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """Web only (no saga runs here), two workers, POST /orders limited to 5 a minute per customer."""
    from tests.stack import Stack

    stack = Stack(
        tmp_path_factory.mktemp("limits"), env={"WEB_CONCURRENCY": "2", "THROTTLE_ORDERS_USER": "5/min"}
    ).create()
    try:
        stack.start_all("web")
        yield stack
    finally:
        stack.close()


def redis_keys(stack) -> list[bytes]:
    return redis.Redis.from_url(REDIS_URL).keys(f"{stack.name}:*")


def test_a_token_from_the_login_works_until_logout(limited):
    limited.manage("create_customer", "limits-alice", "--password", "alice-password-1")

    status, body = limited.http("POST", "/auth/token", {"username": "limits-alice", "password": "alice-password-1"})
    assert status == 200, body
    token = body["token"]

    assert limited.http("GET", "/orders", token=token)[0] == 200
    assert limited.http("POST", "/auth/logout", token=token)[0] == 204
    assert limited.http("GET", "/orders", token=token) == (401, {"error": "Invalid token.", "code": "UNAUTHORIZED"})


def test_anonymous_calls_are_401_and_the_catalog_is_open(limited):
    assert limited.http("GET", "/orders", token="")[1]["code"] == "UNAUTHORIZED"
    assert limited.http("GET", "/sagas", token="")[0] == 401
    assert limited.http("GET", "/products", token="")[0] == 200


def test_twenty_failed_logins_lock_the_username_across_workers(limited):
    limited.manage("create_customer", "limits-bob", "--password", "bob-password-1")
    for _ in range(LIMIT):
        status, body = limited.http("POST", "/auth/token", {"username": "limits-bob", "password": "wrong"})
        assert (status, body["code"]) == (401, "BAD_CREDENTIALS")

    status, body = limited.http("POST", "/auth/token", {"username": "limits-bob", "password": "bob-password-1"})

    assert (status, body["code"]) == (429, "THROTTLED")
    assert redis_keys(limited), "the counters live in Redis, under the stack's prefix"


def test_post_orders_past_the_customer_rate_is_429_with_retry_after(limited):
    import json
    import urllib.error
    import urllib.request

    limited.seed(9001, 100)
    statuses = [
        limited.http("POST", "/orders", {"user_id": 7, "product_id": 9001, "quantity": 1, "total_amount": "1.00"})[0]
        for _ in range(5)
    ]
    request = urllib.request.Request(
        f"http://127.0.0.1:{limited.port}/orders",
        data=json.dumps({"user_id": 7, "product_id": 9001, "quantity": 1, "total_amount": "1.00"}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **limited.auth_headers()},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)

    assert statuses == [201] * 5
    assert refused.value.code == 429
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    assert json.loads(refused.value.read())["code"] == "THROTTLED"
