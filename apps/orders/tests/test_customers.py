"""Customers own their orders: placing for yourself, seeing only your own, the server's prices, the caps."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.common.tests.http import assert_json_error
from apps.common.tests.users import grant, logged_in
from apps.orders.models import Order, OrderStatus
from apps.orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db(databases=["default", "orders"])


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", is_staff=True)


def place(user, body: dict):
    return logged_in(user).post("/orders", body, format="json")


def test_a_customer_places_an_order_for_themselves(alice):
    response = place(alice, {"lines": [{"product_id": 1001, "quantity": 2}, {"product_id": 1002, "quantity": 1}]})

    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["order_id"])
    assert order.user_id == alice.pk
    assert sorted(order.lines.values_list("product_id", "quantity")) == [(1001, 2), (1002, 1)]
    # Not priced until the stock is reserved; nothing the client sent is charged.
    assert (order.total_amount, order.price_overridden) == (None, False)


def test_a_customer_naming_their_own_user_id_is_fine(alice):
    assert place(alice, {"user_id": alice.pk, "product_id": 1001, "quantity": 1}).status_code == 201


def test_a_customer_naming_another_user_id_gets_a_clear_400(alice, bob):
    response = place(alice, {"user_id": bob.pk, "product_id": 1001, "quantity": 1})

    assert_json_error(response, 400, "USER_ID_NOT_YOURS")
    assert not Order.objects.exists()


def test_staff_without_place_on_behalf_cannot_name_another_customer(staff, bob):
    assert_json_error(place(staff, {"user_id": bob.pk, "product_id": 1001, "quantity": 1}), 400, "USER_ID_NOT_YOURS")


def test_staff_with_place_on_behalf_place_for_any_customer(staff, bob):
    staff = grant(staff, "orders.place_on_behalf")

    response = place(staff, {"user_id": bob.pk, "product_id": 1001, "quantity": 1, "total_amount": "0.01"})

    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["order_id"])
    # Without override_price the client's total is only what they expect to pay.
    assert (order.user_id, order.total_amount, order.expected_total) == (bob.pk, None, Decimal("0.01"))


def test_a_customers_total_amount_is_read_as_the_total_they_expect(alice):
    response = place(alice, {"product_id": 1001, "quantity": 1, "total_amount": "0.01"})

    order = Order.objects.get(pk=response.json()["order_id"])
    assert (order.total_amount, order.expected_total, order.price_overridden) == (None, Decimal("0.01"), False)


def test_staff_with_override_price_set_the_total(staff):
    staff = grant(staff, "orders.override_price")

    response = place(staff, {"product_id": 1001, "quantity": 1, "total_amount": "5.00"})

    order = Order.objects.get(pk=response.json()["order_id"])
    assert (order.total_amount, order.price_overridden) == (Decimal("5.00"), True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"product_id": n, "quantity": 1} for n in range(1, 52)]}, "lines"),
        ({"lines": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}]}, "lines"),
        ({"lines": [{"product_id": 1, "quantity": 1}], "product_id": 1, "quantity": 1}, "lines"),
        ({"lines": [{"product_id": 1, "quantity": 0}]}, "lines"),
        ({"product_id": 1}, "quantity"),
        ({"product_id": 1, "quantity": 1, "expected_total": "1.00", "total_amount": "2.00"}, "expected_total"),
    ],
    ids=["no-line", "51-lines", "product-twice", "both-shapes", "zero-units", "no-quantity", "two-totals"],
)
def test_an_unusable_order_body_is_a_400_naming_the_field(alice, body, field):
    response = place(alice, body)

    assert_json_error(response, 400, "INVALID_REQUEST")
    assert field in response.json()["fields"]
    assert not Order.objects.exists()


def test_fifty_lines_are_accepted(alice):
    assert place(alice, {"lines": [{"product_id": n, "quantity": 1} for n in range(1, 51)]}).status_code == 201


def test_anonymous_callers_cannot_place_an_order():
    response = APIClient().post("/orders", {"product_id": 1001, "quantity": 1}, format="json")

    assert response.status_code == 401
    assert not Order.objects.exists()


def test_a_customer_lists_and_reads_only_their_own_orders(alice, bob):
    mine = OrderFactory(user_id=alice.pk)
    theirs = OrderFactory(user_id=bob.pk)
    client = logged_in(alice)

    listed = client.get("/orders").json()["orders"]
    filtered = client.get(f"/orders?user_id={bob.pk}").json()["orders"]

    assert [order["id"] for order in listed] == [mine.pk]
    assert filtered == []
    assert client.get(f"/orders/{mine.pk}").status_code == 200
    # Another customer's order is not there for them: 404, exactly like an order that does not exist.
    assert_json_error(client.get(f"/orders/{theirs.pk}"), 404, "NOT_FOUND")
    assert client.get(f"/orders/{theirs.pk}").json()["error"] == client.get("/orders/999999").json()["error"].replace(
        "999999", str(theirs.pk)
    )


def test_staff_with_view_order_see_every_order_and_filter_by_customer(staff, alice, bob):
    staff = grant(staff, "orders.view_order")
    OrderFactory(user_id=alice.pk)
    theirs = OrderFactory(user_id=bob.pk)
    client = logged_in(staff)

    assert len(client.get("/orders").json()["orders"]) == 2
    assert [order["id"] for order in client.get(f"/orders?user_id={bob.pk}").json()["orders"]] == [theirs.pk]
    assert client.get(f"/orders/{theirs.pk}").status_code == 200


def test_staff_without_view_order_see_only_their_own(staff, alice):
    OrderFactory(user_id=alice.pk)

    assert logged_in(staff).get("/orders").json()["orders"] == []


def test_a_customer_cannot_cancel_another_customers_order(alice, bob):
    theirs = OrderFactory(user_id=bob.pk, status=OrderStatus.CONFIRMED)

    assert_json_error(logged_in(alice).post(f"/orders/{theirs.pk}/cancel", {}, format="json"), 404, "NOT_FOUND")
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.CONFIRMED


def test_an_order_shows_its_lines_with_unit_price_and_line_total(alice):
    order = OrderFactory(
        user_id=alice.pk, lines=[(1001, 2, Decimal("99.99")), (1002, 1, Decimal("24.50"))], total_amount="224.48"
    )

    body = logged_in(alice).get(f"/orders/{order.pk}").json()

    assert body["lines"] == [
        {"product_id": 1001, "quantity": 2, "unit_price": "99.99", "line_total": "199.98"},
        {"product_id": 1002, "quantity": 1, "unit_price": "24.50", "line_total": "24.50"},
    ]
    assert (body["total_amount"], body["product_id"], body["quantity"]) == ("224.48", None, None)


def test_a_customer_has_at_most_the_open_orders_the_setting_allows(alice, settings):
    settings.ORDER_MAX_OPEN_PER_CUSTOMER = 2
    assert [place(alice, {"product_id": 1001, "quantity": 1}).status_code for _ in range(2)] == [201, 201]

    refused = place(alice, {"product_id": 1001, "quantity": 1})

    assert_json_error(refused, 409, "TOO_MANY_OPEN_ORDERS")
    assert Order.objects.count() == 2
    Order.objects.update(status=OrderStatus.CONFIRMED)
    assert place(alice, {"product_id": 1001, "quantity": 1}).status_code == 201


def test_a_customer_holds_at_most_the_units_of_a_product_the_setting_allows(alice, bob, settings):
    settings.ORDER_MAX_UNITS_IN_FLIGHT = 5
    assert place(alice, {"product_id": 1001, "quantity": 4}).status_code == 201

    refused = place(alice, {"lines": [{"product_id": 1002, "quantity": 1}, {"product_id": 1001, "quantity": 2}]})

    assert_json_error(refused, 409, "TOO_MANY_UNITS_IN_FLIGHT")
    assert "1001" in refused.json()["error"]
    # Another customer, and another product, are not held back.
    assert place(bob, {"product_id": 1001, "quantity": 5}).status_code == 201
    assert place(alice, {"product_id": 1002, "quantity": 5}).status_code == 201


def test_staff_placing_on_behalf_are_not_capped(staff, settings):
    settings.ORDER_MAX_OPEN_PER_CUSTOMER = 1
    staff = grant(staff, "orders.place_on_behalf")

    assert [place(staff, {"user_id": 7, "product_id": 1, "quantity": 1}).status_code for _ in range(3)] == [201] * 3


def test_the_schemas_order_examples_are_accepted_when_executed(api_client):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    examples = schema["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["examples"]

    answers = [api_client.post("/orders", example["value"], format="json").status_code for example in examples.values()]

    assert answers == [201, 201]
