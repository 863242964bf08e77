"""The seed's client calls, made with curl as its scripts make them, with a staff token from ~/.curlrc.

The seed's scripts send no credentials. Run as they are, they pick the bearer
header up from curl's own configuration file (``$CURL_HOME/.curlrc``), which
is how README's "The seed's scripts" section runs them against make run-stack.
"""

import concurrent.futures
import json
import subprocess

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]


@pytest.fixture(scope="module")
def curl(stack, tmp_path_factory):
    home = tmp_path_factory.mktemp("curl-home")
    (home / ".curlrc").write_text(f'header = "Authorization: Bearer {stack.token}"\n')
    base = f"http://127.0.0.1:{stack.port}"

    def call(method: str, path: str, body: str | None = None) -> tuple[int, dict]:
        command = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, base + path]
        if body is not None:
            command += ["-H", "Content-Type: application/json", "-d", body]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, env={"CURL_HOME": str(home)})
        text, _, status = done.stdout.rpartition("\n")
        return int(status), json.loads(text or "{}")

    return call


def test_happy_path_as_the_seed_script_makes_it(stack, curl):
    assert curl("POST", "/inventory", '{"product_id": 2001, "available_qty": 100}')[0] == 201
    body = '{"user_id": 42, "product_id": 2001, "quantity": 2, "total_amount": 199.98}'
    status, placed = curl("POST", "/orders", body)
    assert status == 201

    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}
    stack.wait_stock(2001, (98, 0, 2))
    assert curl("GET", f"/orders/{placed['order_id']}")[1]["status"] == "CONFIRMED"
    payment = curl("GET", f"/payments/{placed['order_id']}")[1]
    assert (payment["status"], payment["amount"]) == ("SUCCESS", "199.98")


def test_insufficient_stock_as_the_seed_script_makes_it(stack, curl):
    assert curl("POST", "/inventory", '{"product_id": 2002, "available_qty": 1}')[0] == 201
    placed = curl("POST", "/orders", '{"user_id": 42, "product_id": 2002, "quantity": 5, "total_amount": 49.95}')[1]

    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "FAILED"}
    assert curl("GET", f"/orders/{placed['order_id']}")[1]["failure_reason"] == "insufficient stock"
    assert curl("GET", f"/payments/{placed['order_id']}")[0] == 404
    assert stack.stock(2002) == (1, 0, 0)


def test_fifty_concurrent_orders_on_ten_units_as_the_seed_script_makes_them(stack, curl):
    assert curl("POST", "/inventory", '{"product_id": 2003, "available_qty": 10}')[0] == 201
    body = '{"user_id": 42, "product_id": 2003, "quantity": 1, "total_amount": 9.99}'

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        placed = list(pool.map(lambda _: curl("POST", "/orders", body), range(50)))
    statuses = stack.wait_terminal([answer["order_id"] for _, answer in placed], timeout=120)

    assert [status for status, _ in placed] == [201] * 50
    assert sorted(statuses.values()) == ["CONFIRMED"] * 10 + ["FAILED"] * 40
    stack.wait_stock(2003, (0, 0, 10))
