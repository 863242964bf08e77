"""The messaging admin: each database's outbox and inbox, read-only, and the dead-letter page.

The dead-letter page runs here on the embedded mode's in-process broker (memory://), the one
``make run`` uses; on RabbitMQ it is driven in tests/browser/test_messaging_admin.py.
"""

import http.cookiejar
import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from kombu import Connection, Producer

from apps.messaging.models import InboxMessage, OutboxMessage
from apps.messaging.topology import WORK_QUEUES, declare_topology
from tests.e2e.test_embedded import ADMIN as EMBEDDED_ADMIN
from tests.e2e.test_embedded import Embedded

ALL_DATABASES = ["default", "orders", "inventory", "payments"]
DLQ_PAGE = "/admin/messaging/deadletterqueue/"
QUEUE_PAGE = f"{DLQ_PAGE}inventory.commands.dlq/"
REDRIVE = f"{QUEUE_PAGE}redrive/"
PURGE = f"{QUEUE_PAGE}purge/"


def grant(user, *codenames: str):
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="messaging", codename=codename))
    return type(user).objects.get(pk=user.pk)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client(django_user_model):
    return client_of(django_user_model.objects.create_superuser("root", password="root-password"))


def outbox_row(
    using: str, *, routing_key="inventory.reserve", age=timedelta(0), dispatched=False, **fields
) -> OutboxMessage:
    row = OutboxMessage.objects.using(using).create(
        **fields,
        exchange="saga.commands",
        routing_key=routing_key,
        message_type="ReserveInventory",
        payload={"order_id": 1},
        saga_id=uuid.uuid4(),
    )
    created_at = timezone.now() - age
    OutboxMessage.objects.using(using).filter(pk=row.pk).update(
        created_at=created_at, dispatched_at=created_at if dispatched else None
    )
    return row


# --- Outbox and inbox ----------------------------------------------------------
@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_outbox_list_shows_the_chosen_databases_rows_with_status_and_age(superuser_client):
    pending = outbox_row("orders", age=timedelta(minutes=5))
    dispatched = outbox_row("orders", routing_key="payment.process", age=timedelta(hours=2), dispatched=True)
    elsewhere = outbox_row("inventory", routing_key="inventory.reserved")

    orders = superuser_client.get("/admin/messaging/outboxmessage/")
    inventory = superuser_client.get("/admin/messaging/outboxmessage/", {"database": "inventory"})

    assert orders.status_code == 200
    listed = {row.pk for row in orders.context["cl"].result_list}
    assert listed == {pending.pk, dispatched.pk}
    assert "Outbox messages in the orders database" in orders.text
    assert "5\xa0minutes" in orders.text
    assert "2\xa0hours" in orders.text
    assert "pending" in orders.text
    assert "dispatched" in orders.text
    assert [row.pk for row in inventory.context["cl"].result_list] == [elsewhere.pk]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_outbox_filters_pending_and_dispatched(superuser_client):
    pending = outbox_row("payments")
    dispatched = outbox_row("payments", dispatched=True)

    def listed(status):
        response = superuser_client.get("/admin/messaging/outboxmessage/", {"database": "payments", "status": status})
        return [row.pk for row in response.context["cl"].result_list]

    assert listed("pending") == [pending.pk]
    assert listed("dispatched") == [dispatched.pk]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_an_outbox_row_opens_read_only_from_its_databases_list(superuser_client):
    row = outbox_row("inventory", routing_key="inventory.reserved")
    outbox_row("orders", pk=row.pk)  # the same id in another database: not the one asked for

    page = superuser_client.get(
        f"/admin/messaging/outboxmessage/{row.pk}/change/", {"_changelist_filters": "database=inventory"}
    )

    assert page.status_code == 200
    assert page.context["original"].routing_key == "inventory.reserved"
    assert 'name="_save"' not in page.text


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_outbox_and_inbox_cannot_be_added_changed_or_deleted(superuser_client):
    row = outbox_row("orders")

    assert superuser_client.get("/admin/messaging/outboxmessage/add/").status_code == 403
    assert superuser_client.post(f"/admin/messaging/outboxmessage/{row.pk}/delete/").status_code == 403
    assert superuser_client.post(f"/admin/messaging/outboxmessage/{row.pk}/change/", {}).status_code == 403
    assert superuser_client.get("/admin/messaging/inboxmessage/add/").status_code == 403
    assert OutboxMessage.objects.using("orders").filter(pk=row.pk).exists()


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_list_of_a_database_that_is_not_a_domain_one_is_404(superuser_client):
    assert superuser_client.get("/admin/messaging/outboxmessage/", {"database": "default"}).status_code == 404


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_inbox_list_shows_which_consumer_handled_which_message_when(superuser_client):
    handled = InboxMessage.objects.using("payments").create(
        message_id=uuid.uuid4(), queue="payment.commands", routing_key="payment.process"
    )

    page = superuser_client.get("/admin/messaging/inboxmessage/", {"database": "payments"})

    assert [row.pk for row in page.context["cl"].result_list] == [handled.pk]
    assert str(handled.message_id) in page.text
    assert "payment.commands" in page.text
    assert superuser_client.get("/admin/messaging/inboxmessage/").context["cl"].result_count == 0


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_outbox_is_searched_by_message_saga_or_trace_id(superuser_client):
    row = outbox_row("orders", trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    outbox_row("orders")

    def found(term):
        response = superuser_client.get("/admin/messaging/outboxmessage/", {"q": term})
        assert response.status_code == 200
        return [found_row.pk for found_row in response.context["cl"].result_list]

    assert found(str(row.message_id)) == [row.pk]
    assert found(str(row.saga_id)) == [row.pk]
    assert found("4bf92f3577b34da6a3ce929d0e0e4736") == [row.pk]
    assert found("not-an-id") == []


# --- The dead-letter page on the in-process broker -----------------------------
@pytest.fixture
def memory_broker(settings):
    """The embedded mode's broker with the topology declared and every saga queue empty, before and after."""
    settings.MESSAGING_BROKER_URL = "memory://"
    settings.DLQ_BROKER_URL = ""
    with Connection("memory://") as connection:
        channel = connection.default_channel
        declare_topology(channel)

        def empty_all():
            for work_queue in WORK_QUEUES.values():
                for name in (work_queue.name, work_queue.retry_name, work_queue.dlq_name):
                    channel.queue_purge(name)

        empty_all()
        yield connection
        empty_all()


def dead_letter(connection, *, body: bytes = b'{"order_id": 1}', message_id: str | None = None, **headers) -> str:
    """A dead letter in inventory.commands.dlq as the consumer runtime leaves it."""
    message_id = message_id or str(uuid.uuid4())
    Producer(connection.default_channel).publish(
        body,
        exchange="",
        routing_key="inventory.commands.dlq",
        message_id=message_id,
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        headers={
            "x-original-exchange": "saga.commands",
            "x-original-routing-key": "inventory.reserve",
            "x-dead-letter-reason": "malformed message: no lines",
            "x-retry-count": 3,
            **headers,
        },
        declare=[],
    )
    return message_id


def take(connection, queue: str) -> list:
    channel = connection.default_channel
    taken = []
    while (message := channel.basic_get(queue, no_ack=True)) is not None:
        taken.append(message)
    return taken


@pytest.mark.django_db(databases=["default"])
def test_the_dead_letter_page_needs_a_login_and_its_permissions(django_user_model, memory_broker):
    staff = django_user_model.objects.create_user("staff", password="staff-password", is_staff=True)
    viewer = grant(django_user_model.objects.create_user("viewer", is_staff=True), "view_deadletterqueue")
    operator = grant(
        django_user_model.objects.create_user("operator", is_staff=True),
        "view_deadletterqueue",
        "redrive_deadletter",
        "purge_deadletter",
    )
    anonymous = Client().get(DLQ_PAGE)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")
    for page in (DLQ_PAGE, QUEUE_PAGE, REDRIVE, PURGE):
        assert client_of(staff).get(page).status_code == 403, page
    assert client_of(viewer).get(DLQ_PAGE).status_code == 200
    assert client_of(viewer).get(QUEUE_PAGE).status_code == 200
    assert client_of(viewer).post(REDRIVE, {"confirmed": "yes"}).status_code == 403
    assert client_of(viewer).post(PURGE, {"confirmed": "yes"}).status_code == 403
    for page in (DLQ_PAGE, QUEUE_PAGE, REDRIVE, PURGE):
        assert client_of(operator).get(page).status_code == 200, page


@pytest.mark.django_db(databases=["default"])
def test_the_dead_letter_page_lists_the_depths_and_the_messages_at_the_head(superuser_client, memory_broker):
    message_id = dead_letter(memory_broker)

    depths = superuser_client.get(DLQ_PAGE)
    queue = superuser_client.get(QUEUE_PAGE)

    assert [(row["queue"], row["messages"]) for row in depths.context["rows"]] == [
        ("inventory.commands.dlq", 1),
        ("payment.commands.dlq", 0),
        ("order.events.dlq", 0),
    ]
    assert message_id in queue.text
    assert "malformed message: no lines" in queue.text
    assert "&quot;order_id&quot;: 1" in queue.text
    assert len(take(memory_broker, "inventory.commands.dlq")) == 1, "looking took nothing off the queue"


@pytest.mark.django_db(databases=["default"])
def test_bodies_and_headers_are_escaped_pretty_printed_and_cut(superuser_client, memory_broker):
    dead_letter(memory_broker, body=json.dumps({"note": "<script>alert(1)</script>"}).encode())
    dead_letter(memory_broker, body=b"<img src=x onerror=alert(2)>" + b"x" * 10_000, **{"x-note": "<b>bold</b>"})

    page = superuser_client.get(QUEUE_PAGE).text

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{\n  &quot;note&quot;: " in page, "a JSON body is pretty-printed"
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "x" * 10_000 not in page
    assert "more characters)" in page


@pytest.mark.django_db(databases=["default"])
def test_a_redrive_asks_first_then_sends_the_message_back_to_its_work_queue(superuser_client, memory_broker):
    kept = dead_letter(memory_broker)
    chosen = dead_letter(memory_broker)

    confirmation = superuser_client.get(REDRIVE, {"message_id": chosen})
    assert confirmation.status_code == 200
    assert f"Redrive message {chosen}?" in confirmation.text
    assert len(take(memory_broker, "inventory.commands")) == 0, "asking sent nothing"

    done = superuser_client.post(REDRIVE, {"message_id": chosen, "confirmed": "yes"}, follow=True)

    assert f"Redrove 1 message(s) from inventory.commands.dlq: {chosen}." in done.text
    [redriven] = take(memory_broker, "inventory.commands")
    assert redriven.properties["message_id"] == chosen
    assert redriven.headers["x-retry-count"] == 0
    assert redriven.headers["x-dead-letter-reason"] == "malformed message: no lines"
    assert json.loads(redriven.body) == {"order_id": 1}
    assert [message.properties["message_id"] for message in take(memory_broker, "inventory.commands.dlq")] == [kept]


@pytest.mark.django_db(databases=["default"])
def test_a_redrive_of_all_says_what_it_could_not_route_and_keeps_it(superuser_client, memory_broker):
    routed = dead_letter(memory_broker)
    unroutable = dead_letter(memory_broker, **{"x-original-routing-key": "inventory.nobody"})

    done = superuser_client.post(REDRIVE, {"confirmed": "yes"}, follow=True)

    assert f"Redrove 1 message(s) from inventory.commands.dlq: {routed}." in done.text
    assert f"Kept {unroutable} in inventory.commands.dlq: unroutable: saga.commands/inventory.nobody." in done.text
    assert [message.properties["message_id"] for message in take(memory_broker, "inventory.commands")] == [routed]
    assert [message.properties["message_id"] for message in take(memory_broker, "inventory.commands.dlq")] == [
        unroutable
    ]


@pytest.mark.django_db(databases=["default"])
def test_a_redrive_of_a_message_no_longer_there_says_so(superuser_client, memory_broker):
    done = superuser_client.post(REDRIVE, {"message_id": "gone", "confirmed": "yes"}, follow=True)

    assert "No message gone in inventory.commands.dlq." in done.text


@pytest.mark.django_db(databases=["default"])
def test_a_purge_asks_first_then_empties_the_dlq(superuser_client, memory_broker):
    dead_letter(memory_broker)
    dead_letter(memory_broker)

    assert "Purge every message of inventory.commands.dlq?" in superuser_client.get(PURGE).text
    done = superuser_client.post(PURGE, {"confirmed": "yes"}, follow=True)

    assert "Purged 2 message(s) from inventory.commands.dlq." in done.text
    assert take(memory_broker, "inventory.commands.dlq") == []


@pytest.mark.django_db(databases=["default"])
def test_an_unknown_queue_is_404(superuser_client, memory_broker):
    assert superuser_client.get(f"{DLQ_PAGE}inventory.commands.retry/").status_code == 404


@pytest.mark.django_db(databases=["default"])
def test_a_broker_that_cannot_be_reached_is_said_on_the_page(superuser_client, settings):
    settings.DLQ_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"

    page = superuser_client.get(DLQ_PAGE)

    assert page.status_code == 200
    assert "The broker could not be reached or refused" in page.text


# --- Inside make run's process --------------------------------------------------
class AdminSession:
    """An admin login to a running embedded process over HTTP, with its cookies and CSRF token."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.get("/admin/login/")
        status, _ = self.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
        assert status == 200, "logged in and redirected to the admin index"

    def get(self, path: str, **params) -> tuple[int, str]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self._open(urllib.request.Request(f"{self.base_url}{path}{query}"))

    def post(self, path: str, data: dict) -> tuple[int, str]:
        csrf = next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": csrf}).encode()
        return self._open(urllib.request.Request(f"{self.base_url}{path}", data=body, method="POST"))

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def poison_in_outbox(database: Path) -> str:
    """An outbox row the relay will publish and the inventory consumer will dead-letter: its body is no reservation."""
    message_id = uuid.uuid4()
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO messaging_outbox (message_id, exchange, routing_key, message_type, payload, trace_id,"
            " signature, created_at, publish_attempts, last_error) VALUES (?, ?, ?, ?, ?, '', '', ?, 0, '')",
            (
                message_id.hex,
                "saga.commands",
                "inventory.reserve",
                "ReserveInventory",
                json.dumps({"not": "a reservation"}),
                timezone.now().replace(tzinfo=None).isoformat(" "),
            ),
        )
    return str(message_id)


def handled(log: Path, message_id: str) -> list[str]:
    """The outcomes the embedded process's consumers logged for ``message_id``."""
    outcomes = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "consumer.handled" and entry.get("message_id") == message_id:
            outcomes.append(entry["outcome"])
    return outcomes


@pytest.mark.embedded
def test_make_runs_admin_redrives_a_dead_letter_of_its_in_process_broker(tmp_path):
    app = Embedded(tmp_path).start()
    try:
        message_id = poison_in_outbox(tmp_path / "orders.sqlite3")
        app.wait(lambda: handled(app.log_path, message_id) == ["dead_lettered"], "the poison dead-lettered")
        admin_session = AdminSession(f"http://127.0.0.1:{app.port}", *EMBEDDED_ADMIN)

        status, depths = admin_session.get(DLQ_PAGE)
        assert status == 200
        assert "The embedded broker" in depths
        status, queue = admin_session.get(QUEUE_PAGE)
        assert message_id in queue
        assert "malformed message" in queue
        status, done = admin_session.post(REDRIVE, {"message_id": message_id, "confirmed": "yes"})

        assert status == 200
        assert f"Redrove 1 message(s) from inventory.commands.dlq: {message_id}." in done
        # Back on inventory.commands, its consumer handled it again, and dead-lettered it again: still no reservation.
        app.wait(
            lambda: handled(app.log_path, message_id) == ["dead_lettered", "dead_lettered"],
            "the redriven message handled again",
        )
        app.wait(lambda: message_id in admin_session.get(QUEUE_PAGE)[1], "the message back in the DLQ")
    finally:
        app.stop()
