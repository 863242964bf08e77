"""Delivery faults against the real processes: duplicates, re-sends, stale events, poison, relay crashes."""

import concurrent.futures
import json
import signal
import time
import uuid

import pytest
from kombu import Connection, Producer

from apps.messaging.tests.signed import signature_headers

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]


def publish(stack, *, routing_key: str, body, message_id: str | None = None, exchange: str = "saga.commands"):
    """Publish ``body`` as the app that sends ``routing_key`` would: signed (when it is JSON)."""
    message_id = message_id or str(uuid.uuid4())
    signature = signature_headers(routing_key=routing_key, body=body, message_id=message_id)
    with Connection(stack.base_env["CELERY_BROKER_URL"]) as connection:
        Producer(connection).publish(
            body if isinstance(body, bytes) else json.dumps(body).encode(),
            exchange=exchange,
            routing_key=routing_key,
            message_id=message_id,
            headers={"trace_id": "e2e-injected", **signature},
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )


def queue_depth(stack, queue: str) -> int:
    with Connection(stack.base_env["CELERY_BROKER_URL"]) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


def outcomes(stack, key: str, message_id: str) -> list[str]:
    return [
        record["outcome"]
        for record in stack.json_logs(key)
        if record.get("event") == "consumer.handled" and record.get("message_id") == message_id
    ]


def reserve_command(stack, order_id: int) -> tuple[str, dict]:
    [(message_id, payload)] = stack.sql(
        "orders",
        "SELECT message_id, payload FROM messaging_outbox WHERE routing_key = 'inventory.reserve' "
        "AND JSON_VALUE(payload, '$.order_id') = %s",
        [order_id],
    )
    return str(uuid.UUID(hex=message_id.replace("-", ""))), json.loads(payload)


def test_the_same_command_delivered_twice_moves_stock_once(stack):
    stack.seed(2001, 10)
    stack.stop("inventory-consumer")
    try:
        placed = stack.place_order(product_id=2001, quantity=3)
        stack.wait_until(lambda: queue_depth(stack, "inventory.commands") == 1, timeout=15, what="command queued")
        message_id, payload = reserve_command(stack, placed["order_id"])
        publish(stack, routing_key="inventory.reserve", body=payload, message_id=message_id)
    finally:
        stack.start("inventory-consumer")

    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}
    stack.wait_until(lambda: len(outcomes(stack, "inventory-consumer", message_id)) == 2, timeout=10, what="2 handled")
    assert sorted(outcomes(stack, "inventory-consumer", message_id)) == ["duplicate", "ok"]
    stack.wait_stock(2001, (7, 0, 3))
    assert stack.sql(
        "inventory", "SELECT action FROM inventory_logs WHERE order_id = %s ORDER BY id", [placed["order_id"]]
    ) == [("RESERVE",), ("COMMIT",)]


def test_a_recovery_resend_with_a_new_id_is_answered_from_the_log(stack):
    stack.seed(2002, 10)
    placed = stack.place_order(product_id=2002, quantity=2)
    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}
    _, payload = reserve_command(stack, placed["order_id"])
    orders_outbox_before = stack.sql("orders", "SELECT COUNT(*) FROM messaging_outbox")[0][0]

    publish(stack, routing_key="inventory.reserve", body=payload)

    replies = "SELECT COUNT(*) FROM messaging_outbox WHERE routing_key = 'inventory.reserved' AND saga_id = %s"
    saga_hex = uuid.UUID(placed["saga_id"]).hex
    stack.wait_until(lambda: stack.sql("inventory", replies, [saga_hex])[0][0] == 2, timeout=15, what="second reply")
    stack.wait_until(
        lambda: stack.sql("inventory", "SELECT COUNT(*) FROM messaging_outbox WHERE dispatched_at IS NULL")[0][0] == 0,
        timeout=15,
        what="reply relayed",
    )
    assert stack.stock(2002)[0] == 8
    assert stack.http("GET", f"/sagas/{placed['saga_id']}", staff=True)[1]["saga"]["status"] == "COMPLETED"
    assert stack.sql("orders", "SELECT COUNT(*) FROM messaging_outbox")[0][0] == orders_outbox_before


def test_a_stale_event_changes_nothing(stack):
    stack.seed(2003, 10)
    placed = stack.place_order(product_id=2003, quantity=1)
    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}
    message_id = str(uuid.uuid4())

    publish(
        stack,
        exchange="saga.events",
        routing_key="inventory.reserved",
        message_id=message_id,
        body={
            "saga_id": placed["saga_id"],
            "order_id": placed["order_id"],
            "product_id": 2003,
            "quantity": 1,
            "success": False,
            "reason": "late and wrong",
        },
    )

    stack.wait_until(lambda: outcomes(stack, "orders-consumer", message_id) == ["ok"], timeout=15, what="handled")
    saga = stack.http("GET", f"/sagas/{placed['saga_id']}", staff=True)[1]
    assert (saga["saga"]["status"], saga["order"]["status"], saga["order"]["failure_reason"]) == (
        "COMPLETED",
        "CONFIRMED",
        "",
    )


def test_a_poison_message_goes_to_the_dlq_and_orders_keep_flowing(stack):
    stack.seed(2004, 10)
    publish(stack, routing_key="inventory.reserve", body=b"\x00 definitely not json")
    publish(stack, routing_key="payment.process", body={"saga_id": "x", "order_id": -1})
    publish(stack, exchange="saga.events", routing_key="payment.processed", body=["not", "an", "object"])

    stack.wait_until(lambda: queue_depth(stack, "inventory.commands.dlq") == 1, timeout=15, what="inventory DLQ")
    stack.wait_until(lambda: queue_depth(stack, "payment.commands.dlq") == 1, timeout=15, what="payment DLQ")
    stack.wait_until(lambda: queue_depth(stack, "order.events.dlq") == 1, timeout=15, what="order DLQ")
    placed = stack.place_order(product_id=2004, quantity=1)
    assert stack.wait_terminal([placed["order_id"]]) == {placed["order_id"]: "CONFIRMED"}


def test_relay_crash_after_publish_before_marking_publishes_twice_with_one_effect(make_stack):
    stack = make_stack()
    stack.start("web")
    for consumer in ("orders-consumer", "inventory-consumer", "payments-consumer"):
        stack.start(consumer)
    stack.wait_until(stack._web_ready, timeout=60, what="web up")
    stack.seed(2101, 10)
    stack.start("relay", env={"CRASH_POINTS": "relay.after_publish", "RELAY_CONCURRENCY": "1"})

    placed = stack.place_order(product_id=2101, quantity=4)
    # The command reached the broker and was handled, but its outbox row was never marked.
    reserves = "SELECT COUNT(*) FROM messaging_inbox WHERE routing_key = 'inventory.reserve'"
    stack.wait_until(lambda: stack.sql("inventory", reserves)[0][0] == 1, timeout=30, what="handled")
    # (The crash-looping relay may meanwhile publish later steps' rows too: only this one matters.)
    unmarked = "SELECT COUNT(*) FROM messaging_outbox WHERE dispatched_at IS NULL AND routing_key = 'inventory.reserve'"
    assert stack.sql("orders", unmarked)[0][0] == 1
    stack.kill("relay")
    stack.start("relay")
    stack.start("beat")

    assert stack.wait_terminal([placed["order_id"]], timeout=60) == {placed["order_id"]: "CONFIRMED"}
    message_id, _ = reserve_command(stack, placed["order_id"])
    stack.wait_until(lambda: len(outcomes(stack, "inventory-consumer", message_id)) == 2, timeout=10, what="2 handled")
    assert sorted(outcomes(stack, "inventory-consumer", message_id)) == ["duplicate", "ok"]
    stack.wait_stock(2101, (6, 0, 4))
    assert stack.sql("payments", "SELECT COUNT(*) FROM payments")[0][0] == 1


def test_the_relay_follows_the_orders_outbox_with_no_nudge_and_no_sweep(make_stack):
    stack = make_stack()
    stack.start_all("web", "orders-consumer", "inventory-consumer", "payments-consumer")
    stack.seed(2141, 10)
    # No relay yet: the web leaves the order's first command in the outbox.
    waiting = stack.place_order(product_id=2141, quantity=1)["order_id"]
    time.sleep(1.0)
    undispatched = "SELECT COUNT(*) FROM messaging_outbox WHERE dispatched_at IS NULL"
    assert stack.sql("orders", undispatched)[0][0] == 1
    assert stack.sql("orders", "SELECT status FROM orders WHERE id = %s", [waiting]) == [("PENDING",)]

    # No beat either: only the relay's followers can publish the orders outbox.
    stack.start("relay")
    placed = [waiting, *(stack.place_order(product_id=2141, quantity=1)["order_id"] for _ in range(4))]

    assert set(stack.wait_terminal(placed, timeout=30).values()) == {"CONFIRMED"}
    stack.wait_stock(2141, (5, 0, 5))
    assert any(line.get("event") == "relay.following" for line in stack.json_logs("relay"))


def test_with_no_relay_running_a_web_that_dispatches_and_the_consumers_carry_sagas_to_the_end(make_stack):
    stack = make_stack()
    stack.start("web", env={"WEB_DISPATCH_AFTER_RESPONSE": "true"})
    stack.start_all("orders-consumer", "inventory-consumer", "payments-consumer")
    stack.seed(2151, 10)

    placed = [stack.place_order(product_id=2151, quantity=1)["order_id"] for _ in range(5)]

    assert set(stack.wait_terminal(placed, timeout=30).values()) == {"CONFIRMED"}
    stack.wait_stock(2151, (5, 0, 5))
    undispatched = "SELECT COUNT(*) FROM messaging_outbox WHERE dispatched_at IS NULL"
    stack.wait_until(
        lambda: all(stack.sql(alias, undispatched)[0][0] == 0 for alias in ALIASES), timeout=10, what="all marked"
    )


def test_two_relays_drain_one_backlog_with_effects_once(make_stack):
    # Both relays are up before the orders come, eight at a time, in small batches: the two
    # relays' children follow the orders outbox side by side and their claims overlap on the
    # same rows. Started after a backlog, the first relay up would drain all of it alone.
    stack = make_stack(RELAY_BATCH_SIZE=10)
    stack.start("web")
    for consumer in ("orders-consumer", "inventory-consumer", "payments-consumer"):
        stack.start(consumer)
    stack.start("relay", instance="-a")
    stack.start("relay", instance="-b")
    stack.start("beat")
    stack.wait_until(stack._web_ready, timeout=60, what="web up")
    for key in ("relay-a", "relay-b"):
        stack.wait_until(lambda key=key: " ready." in stack.log(key), timeout=60, what=f"{key} up")
    stack.seed(2201, 1000)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        placed = list(pool.map(lambda _: stack.place_order(product_id=2201, quantity=1)["order_id"], range(200)))

    statuses = stack.wait_terminal(placed, timeout=120)
    assert set(statuses.values()) == {"CONFIRMED"}
    stack.wait_stock(2201, (800, 0, 200))
    undispatched = "SELECT COUNT(*) FROM messaging_outbox WHERE dispatched_at IS NULL"
    stack.wait_until(
        lambda: all(stack.sql(alias, undispatched)[0][0] == 0 for alias in ("orders", "inventory", "payments")),
        timeout=30,
        what="every outbox drained",
    )
    published = {key: published_count(stack, key, by="messaging.relay") for key in ("relay-a", "relay-b")}
    assert all(count > 0 for count in published.values()), published
    # The consumers publish their own replies after their commits.
    published |= {key: published_count(stack, key, by="messaging.dispatch") for key in CONSUMERS}
    rows = sum(stack.sql(alias, "SELECT COUNT(*) FROM messaging_outbox")[0][0] for alias in ALIASES)
    # reserve, reserved, process, processed, commit (an applied commit is not answered); plus any
    # re-send recovery made for a saga that sat in the backlog longer than SAGA_RECOVERY_AGE.
    assert rows >= 200 * 5
    committed = "SELECT COUNT(*) FROM messaging_outbox WHERE routing_key = 'inventory.committed'"
    assert stack.sql("inventory", committed)[0][0] == 0
    assert sum(published.values()) == rows, f"every outbox row published exactly once: {published}"
    assert stack.sql("inventory", "SELECT action, COUNT(*) FROM inventory_logs GROUP BY action ORDER BY action") == [
        ("COMMIT", 200),
        ("RESERVE", 200),
    ]
    assert stack.sql("payments", "SELECT COUNT(*) FROM payments")[0][0] == 200


ALIASES = ("orders", "inventory", "payments")
CONSUMERS = ("orders-consumer", "inventory-consumer", "payments-consumer")


def published_count(stack, key: str, *, by: str) -> int:
    """Rows a process published, from its outbox.batch_published lines logged by ``by``.

    ``messaging.dispatch``: a consumer's own replies after its commits; ``messaging.relay``:
    a relay's followers and tasks.
    """
    return sum(
        line["published"]
        for line in stack.json_logs(key)
        if line.get("event") == "outbox.batch_published" and line.get("logger") == by
    )


def test_processes_reconnect_after_the_broker_drops_every_connection(stack):
    stack.seed(2301, 10)
    assert stack.wait_terminal([stack.place_order(product_id=2301)["order_id"]]) != {}

    rabbitmqctl_close_vhost_connections(stack.vhost)
    placed = stack.place_order(product_id=2301, quantity=2)

    assert stack.wait_terminal([placed["order_id"]], timeout=60) == {placed["order_id"]: "CONFIRMED"}
    assert stack.inventory(2301)["available_qty"] == 7
    for consumer in ("orders-consumer", "inventory-consumer", "payments-consumer"):
        events = [record.get("event") for record in stack.json_logs(consumer)]
        assert "consumer.disconnected" in events, f"{consumer} never saw the broker go"
        assert events.count("consumer.started") >= 2, f"{consumer} did not come back"


def test_web_and_consumers_recover_when_their_database_connections_are_killed(stack):
    stack.seed(2302, 16)
    # Enough orders that every web worker holds a connection, then as many again once they are killed:
    # each worker's health check replaces its connection before the request's first statement (201s).
    first = [stack.place_order(product_id=2302)["order_id"] for _ in range(8)]
    assert len(stack.wait_terminal(first)) == 8

    killed = kill_database_connections(stack)
    placed = [stack.place_order(product_id=2302)["order_id"] for _ in range(8)]

    assert killed > 0
    assert stack.wait_terminal(placed, timeout=60) == dict.fromkeys(placed, "CONFIRMED")
    assert stack.inventory(2302)["available_qty"] == 0


def rabbitmqctl_close_vhost_connections(vhost: str) -> None:
    from tests.stack import rabbitmqctl

    rabbitmqctl("close_all_connections", "-p", vhost, "test: broker dropped the connection")


UNKNOWN_THREAD_ID = 1094


def kill_database_connections(stack) -> int:
    import MySQLdb

    from tests.stack import MARIADB

    connection = MySQLdb.connect(**MARIADB)
    try:
        cursor = connection.cursor()
        names = list(stack.databases.values())
        placeholders = ",".join(["%s"] * len(names))
        cursor.execute(f"SELECT id FROM information_schema.processlist WHERE db IN ({placeholders})", names)
        killed = 0
        for (connection_id,) in cursor.fetchall():
            try:
                cursor.execute(f"KILL CONNECTION {int(connection_id)}")
                killed += 1
            except MySQLdb.OperationalError as error:
                # 1094 "Unknown thread id": it closed between the listing and the KILL.
                if error.args[0] != UNKNOWN_THREAD_ID:
                    raise
        return killed
    finally:
        connection.close()


def test_sigterm_finishes_the_message_in_hand_and_exits_cleanly(stack):
    stack.seed(2303, 100)
    placed = [stack.place_order(product_id=2303)["order_id"] for _ in range(30)]
    process = stack.processes["inventory-consumer"]

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=15) == 0
    assert "consumer.stopped" in [record.get("event") for record in stack.json_logs("inventory-consumer")]
    stack.processes.pop("inventory-consumer")
    stack.start("inventory-consumer")
    assert set(stack.wait_terminal(placed, timeout=60).values()) == {"CONFIRMED"}
    stack.wait_stock(2303, (70, 0, 30))
    assert (
        stack.sql("inventory", "SELECT COUNT(*) FROM inventory_logs WHERE product_id = 2303 AND action = 'RESERVE'")[0][
            0
        ]
        == 30
    )
