"""Customers, prices and lines against the real Procfile processes on MariaDB and RabbitMQ.

The permission matrix (every endpoint x every kind of caller), the price a
tampering client cannot change, multi-line orders all or nothing, and 200
concurrent three-line orders over overlapping products.
"""

import concurrent.futures
import uuid
from decimal import Decimal

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

ANONYMOUS = ""


@pytest.fixture(scope="module")
def callers(stack):
    """name -> (user id, token): two customers, staff with no permission, and the seed's operator."""
    people = {name: stack.customer(name) for name in ("alice", "bob")}
    people["staff"] = stack.customer("plain-staff", "--staff")
    people["operator"] = (stack.user_id("e2e-operator"), stack.token)
    people["anonymous"] = (None, ANONYMOUS)
    return people


@pytest.fixture(scope="module")
def world(stack, callers):
    """A priced product, and one confirmed order of alice's with its payment and saga."""
    stack.seed(7001, 1000, unit_price="12.50")
    placed = stack.place({"lines": [{"product_id": 7001, "quantity": 2}]}, token=callers["alice"][1])
    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}
    return {"order": placed["order_id"], "saga": placed["saga_id"]}


def expect(stack, callers, method, path, body, cells: dict[str, int]) -> None:
    seen = {name: stack.http(method, path, body, token=callers[name][1])[0] for name in cells}
    assert seen == cells, f"{method} {path}"


def test_every_endpoint_answers_each_kind_of_caller_as_specified(stack, callers, world):
    alice_id = callers["alice"][0]
    order, saga = world["order"], world["saga"]
    everyone_ok = dict.fromkeys(("anonymous", "alice", "bob", "staff", "operator"), 200)
    refused_to_all_but_operator = {"anonymous": 401, "alice": 403, "bob": 403, "staff": 403, "operator": 200}
    own_only = {"anonymous": 401, "alice": 200, "bob": 404, "staff": 404, "operator": 200}
    stock_write = {"anonymous": 401, "alice": 403, "bob": 403, "staff": 403}

    for path in ("/health", "/ready", "/products", "/products/7001"):
        expect(stack, callers, "GET", path, None, everyone_ok)
    expect(stack, callers, "GET", f"/orders/{order}", None, own_only)
    expect(stack, callers, "GET", f"/payments/{order}", None, own_only)
    for path in ("/sagas", f"/sagas/{saga}", "/inventory/7001"):
        expect(stack, callers, "GET", path, None, refused_to_all_but_operator)
    expect(stack, callers, "PUT", "/inventory/7001", {"available_qty": 1000}, {**stock_write, "operator": 200})
    expect(stack, callers, "POST", "/inventory", {"product_id": 7999, "available_qty": 1}, stock_write)
    assert stack.http("POST", "/inventory", {"product_id": 7999, "available_qty": 1})[0] == 201
    # Placing for alice by naming her: only she and staff who may place on behalf.
    named = {"product_id": 7001, "quantity": 1, "user_id": alice_id}
    expect(
        stack,
        callers,
        "POST",
        "/orders",
        named,
        {"anonymous": 401, "bob": 400, "staff": 400, "alice": 201, "operator": 201},
    )
    expect(
        stack,
        callers,
        "POST",
        "/orders",
        {"product_id": 7001, "quantity": 1},
        {"anonymous": 401, "alice": 201, "bob": 201, "staff": 201, "operator": 201},
    )
    # Cancelling: another customer's order is not there for them.
    expect(stack, callers, "POST", f"/orders/{order}/cancel", {}, {"anonymous": 401, "bob": 404, "staff": 404})
    assert stack.http("POST", f"/orders/{order}/cancel", {}, token=callers["alice"][1])[0] == 202


def test_each_caller_lists_only_the_orders_they_may_see(stack, callers, world):
    mine = {
        name: {order["user_id"] for order in stack.http("GET", "/orders?limit=100", token=token)[1]["orders"]}
        for name, (_, token) in callers.items()
        if name != "anonymous"
    }

    assert mine["alice"] == {callers["alice"][0]}
    assert mine["bob"] <= {callers["bob"][0]}
    assert mine["staff"] <= {callers["staff"][0]}
    assert {callers["alice"][0]} < mine["operator"]
    assert stack.http("GET", "/orders", token=ANONYMOUS)[0] == 401


TAMPERED = {None: 7101, "0.01": 7102, "999999.00": 7103, "29.96": 7104}


@pytest.mark.parametrize("sent", list(TAMPERED))
def test_whatever_total_the_client_sends_the_payment_is_the_catalog_total(stack, callers, sent):
    product = TAMPERED[sent]
    stack.seed_once(product, 100, unit_price="9.99")
    body = {"lines": [{"product_id": product, "quantity": 3}]}
    if sent is not None:
        body["total_amount"] = sent

    placed = stack.place(body, token=callers["bob"][1])
    statuses = stack.wait_terminal([placed["order_id"]])

    order = stack.http("GET", f"/orders/{placed['order_id']}", token=callers["bob"][1])[1]
    if sent is None:
        assert statuses == {placed["order_id"]: "CONFIRMED"}
        payment = stack.http("GET", f"/payments/{placed['order_id']}", token=callers["bob"][1])[1]
        assert (payment["status"], payment["amount"], order["total_amount"]) == ("SUCCESS", "29.97", "29.97")
    else:
        # The client's number is never charged: a total that is not the catalog's fails before any charge.
        assert statuses == {placed["order_id"]: "FAILED"}
        assert order["failure_reason"] == f"price changed: the catalog total is 29.97 USD, not {Decimal(sent):.2f}"
        assert stack.http("GET", f"/payments/{placed['order_id']}", token=callers["bob"][1])[0] == 404
    charged = stack.sql("payments", "SELECT amount FROM payments WHERE order_id = %s", [placed["order_id"]])
    assert charged in ([(Decimal("29.97"),)], [])


def test_the_total_the_catalog_agrees_with_is_charged(stack, callers):
    stack.seed_once(7200, 100, unit_price="9.99")

    placed = stack.place(
        {"lines": [{"product_id": 7200, "quantity": 3}], "expected_total": "29.97"}, token=callers["bob"][1]
    )

    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}
    payment = stack.http("GET", f"/payments/{placed['order_id']}", token=callers["bob"][1])[1]
    assert payment["amount"] == "29.97"


def test_staff_who_may_override_the_price_charge_the_seed_total(stack):
    stack.seed_once(7300, 100, unit_price="9.99")

    placed = stack.place_order(product_id=7300, quantity=3, amount="1.00")

    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}
    assert stack.http("GET", f"/payments/{placed['order_id']}")[1]["amount"] == "1.00"


def test_an_order_with_one_line_short_fails_and_moves_no_unit_of_any_line(stack, callers):
    for product, units in ((7401, 10), (7402, 10), (7403, 1)):
        stack.seed_once(product, units, unit_price="1.00")
    lines = [
        {"product_id": 7401, "quantity": 3},
        {"product_id": 7402, "quantity": 3},
        {"product_id": 7403, "quantity": 2},
    ]

    placed = stack.place({"lines": lines}, token=callers["alice"][1])

    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "FAILED"}
    order = stack.http("GET", f"/orders/{placed['order_id']}", token=callers["alice"][1])[1]
    assert order["failure_reason"] == "insufficient stock: product 7403"
    assert [stack.stock(product) for product in (7401, 7402, 7403)] == [(10, 0, 0), (10, 0, 0), (1, 0, 0)]
    assert stack.http("GET", f"/payments/{placed['order_id']}", token=callers["alice"][1])[0] == 404


def test_a_confirmed_multi_line_order_shows_each_line_priced_and_cancels_line_by_line(stack, callers):
    stack.seed_once(7501, 10, unit_price="99.99")
    stack.seed_once(7502, 10, unit_price="24.50")
    lines = [{"product_id": 7502, "quantity": 1}, {"product_id": 7501, "quantity": 2}]

    placed = stack.place({"lines": lines, "expected_total": "224.48"}, token=callers["alice"][1])
    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}
    stack.wait_stock(7501, (8, 0, 2))
    order = stack.http("GET", f"/orders/{placed['order_id']}", token=callers["alice"][1])[1]
    saga = stack.http("GET", f"/sagas/{placed['saga_id']}")[1]

    expected_lines = [
        {"product_id": 7501, "quantity": 2, "unit_price": "99.99", "line_total": "199.98"},
        {"product_id": 7502, "quantity": 1, "unit_price": "24.50", "line_total": "24.50"},
    ]
    assert (order["lines"], order["total_amount"], order["currency"]) == (expected_lines, "224.48", "USD")
    assert saga["order"]["lines"] == expected_lines
    assert stack.http("POST", f"/orders/{placed['order_id']}/cancel", {}, token=callers["alice"][1])[0] == 202
    stack.wait_stock(7501, (10, 0, 0))
    stack.wait_stock(7502, (10, 0, 0))


def test_two_hundred_concurrent_three_line_orders_over_overlapping_products(stack, callers):
    products = [7601, 7602, 7603, 7604, 7605]
    for product in products:
        stack.seed_once(product, 300, unit_price="1.00")
    # Each order takes three of five products, in a rotating order, so every pair of orders overlaps
    # in some product and many name them in opposite orders: a lock order bug would deadlock them.
    bodies = [
        {"lines": [{"product_id": products[(n + k * (1 + n % 2)) % 5], "quantity": 1 + (n + k) % 3} for k in range(3)]}
        for n in range(200)
    ]
    asked = {product: 0 for product in products}
    for body in bodies:
        for line in body["lines"]:
            asked[line["product_id"]] += line["quantity"]
    # Placed by the operator for two customers: past the per-customer caps, priced by the catalog.
    customers = [callers[name][0] for name in ("alice", "bob")]

    def place(n: int) -> dict:
        return stack.place({**bodies[n], "user_id": customers[n % 2]}, key=f"burst-{uuid.uuid4()}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        placed = list(pool.map(place, range(len(bodies))))
    statuses = stack.wait_terminal([order["order_id"] for order in placed], timeout=240)

    reasons = {
        stack.sql("orders", "SELECT failure_reason FROM orders WHERE id = %s", [order_id])[0][0]
        for order_id, status in statuses.items()
        if status != "CONFIRMED"
    }
    # No deadlock or lock wait reaches a customer: a failed order is short of stock, nothing else.
    assert all(reason.startswith("insufficient stock") for reason in reasons), reasons
    sold = {product: 0 for product in products}
    for order, body in zip(placed, bodies, strict=True):
        if statuses[order["order_id"]] == "CONFIRMED":
            for line in body["lines"]:
                sold[line["product_id"]] += line["quantity"]
    for product in products:
        stack.wait_stock(product, (300 - sold[product], 0, sold[product]))
        assert sold[product] <= 300
    if all(asked[product] <= 300 for product in products):
        assert set(statuses.values()) == {"CONFIRMED"}
