"""Step deadlines against the real processes: silent consumers, late replies, refunds and releases."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

DEADLINES = {
    "SAGA_STEP_DEADLINE_RESERVING_INVENTORY": 3,
    "SAGA_STEP_DEADLINE_PROCESSING_PAYMENT": 3,
    "SAGA_DEADLINE_CHECK_INTERVAL": 1,
}


def saga(stack, saga_id: str) -> dict:
    status, body = stack.http("GET", f"/sagas/{saga_id}", staff=True)
    assert status == 200, body
    return body


def position(stack, saga_id: str) -> tuple[str, str]:
    state = saga(stack, saga_id)["saga"]
    return state["status"], state["current_step"]


def events(body: dict) -> list[str]:
    return [entry["event"] for entry in body["history"]]


@pytest.fixture
def short_deadlines(make_stack):
    stack = make_stack(**DEADLINES)
    for name in ("web", "relay", "beat", "orders-consumer", "inventory-consumer"):
        stack.start(name)
    stack.wait_until(stack._web_ready, timeout=60, what="web up")
    return stack


def test_a_silent_payment_consumer_compensates_at_the_deadline_and_its_late_charge_is_refunded(short_deadlines):
    stack = short_deadlines
    stack.seed(4001, 10)
    placed = stack.place_order(product_id=4001, quantity=3, amount="59.97")

    # Nobody answers payment.process: at the deadline the stock comes back, and the saga waits for the refund.
    stack.wait_until(
        lambda: position(stack, placed["saga_id"]) == ("COMPENSATING", "REFUNDING_PAYMENT"),
        timeout=30,
        what="the payment step passed its deadline",
    )
    stack.wait_stock(4001, (10, 0, 0))
    assert stack.order(placed["order_id"])["status"] == "FAILED"
    assert stack.http("GET", f"/payments/{placed['order_id']}")[0] == 404

    # The payments consumer comes back: the late charge succeeds, then the queued refund gives it back.
    stack.start("payments-consumer")

    assert stack.wait_terminal([placed["order_id"]], timeout=60) == {placed["order_id"]: "COMPENSATED"}
    status, payment = stack.http("GET", f"/payments/{placed['order_id']}")
    assert (status, payment["status"]) == (200, "REFUNDED")
    assert payment["refund_id"].startswith("rfd_")
    stack.wait_stock(4001, (10, 0, 0))
    body = saga(stack, placed["saga_id"])
    assert (body["saga"]["status"], body["saga"]["current_step"], body["saga"]["is_stuck"]) == (
        "COMPENSATED",
        "DONE",
        False,
    )
    timeline = events(body)
    assert timeline[:3] == ["ORDER_PLACED", "INVENTORY_RESERVED", "DEADLINE_PASSED"]
    assert timeline[-2:] == ["PAYMENT_REFUNDED", "INVENTORY_RELEASED"]
    # The late success and the first release answer arrived while the saga waited for the refund: both ignored.
    ignored = [entry for entry in body["history"] if entry["reason"].startswith("ignored")]
    assert {entry["event"] for entry in ignored} == {"PAYMENT_SUCCEEDED", "INVENTORY_RELEASED"}
    assert all(entry["message_id"] for entry in body["history"][1:] if entry["event"] != "DEADLINE_PASSED")
    assert stack.sql("inventory", "SELECT action, outcome, quantity FROM inventory_logs ORDER BY id") == [
        ("RESERVE", "APPLIED", 3),
        ("RELEASE", "APPLIED", 3),
    ]


def test_a_silent_inventory_consumer_compensates_and_its_late_reservation_is_released(short_deadlines):
    stack = short_deadlines
    stack.start("payments-consumer")
    stack.seed(4002, 10)
    stack.stop("inventory-consumer")
    placed = stack.place_order(product_id=4002, quantity=4)

    stack.wait_until(
        lambda: position(stack, placed["saga_id"]) == ("COMPENSATING", "RELEASING_INVENTORY"),
        timeout=30,
        what="the reserving step passed its deadline",
    )
    # The reserve command still waits in the queue, ahead of the release.
    stack.start("inventory-consumer")

    assert stack.wait_terminal([placed["order_id"]], timeout=60) == {placed["order_id"]: "COMPENSATED"}
    stack.wait_stock(4002, (10, 0, 0))
    body = saga(stack, placed["saga_id"])
    assert events(body)[:2] == ["ORDER_PLACED", "DEADLINE_PASSED"]
    assert events(body)[-1] == "INVENTORY_RELEASED"
    assert "INVENTORY_RESERVED" in events(body)
    assert stack.http("GET", f"/payments/{placed['order_id']}")[0] == 404
    assert stack.sql(
        "inventory",
        "SELECT action, outcome, quantity FROM inventory_logs WHERE order_id = %s ORDER BY id",
        [placed["order_id"]],
    ) == [("RESERVE", "APPLIED", 4), ("RELEASE", "APPLIED", 4)]


def test_orders_in_time_are_not_touched_by_short_deadlines(short_deadlines):
    stack = short_deadlines
    stack.start("payments-consumer")
    stack.seed(4003, 10)
    placed = [stack.place_order(product_id=4003)["order_id"] for _ in range(5)]

    assert set(stack.wait_terminal(placed, timeout=30).values()) == {"CONFIRMED"}
    stack.wait_stock(4003, (5, 0, 5))
