"""Provisioning on the real servers: each user can do its job and nothing the plan leaves out."""

import contextlib
import json
import subprocess
import uuid

import amqp
import MySQLdb
import pytest
from django.conf import settings

from apps.access.plan import PRINCIPALS
from apps.access.services import MissingPassword, access_password_variables, access_provision, access_user
from tests.stack import rabbitmqctl

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.rabbitmq,
    pytest.mark.django_db(databases=["default", "orders", "inventory", "payments"], transaction=True),
]


@pytest.fixture
def provision(rabbitmq_vhost, tmp_path):
    """``provision(**overrides)`` runs access_provision for this test's users; every user is dropped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    vhost = rabbitmq_vhost.rsplit("/", 1)[1]
    credentials = tmp_path / "access.env"

    def run(**overrides):
        arguments = {
            "prefix": prefix,
            "vhost": vhost,
            "database_user_host": "%",
            "credentials_file": credentials,
            "rabbitmqctl": ["rabbitmqctl"],
        }
        return access_provision(**{**arguments, **overrides})

    run.prefix, run.vhost, run.credentials = prefix, vhost, credentials
    yield run
    server = _server_connection()
    try:
        for principal in PRINCIPALS.values():
            user = access_user(prefix=prefix, principal=principal.name)
            server.cursor().execute("DROP USER IF EXISTS %s@'%%'", [user])
            with contextlib.suppress(subprocess.CalledProcessError):
                rabbitmqctl("delete_user", user)
    finally:
        server.close()


def _server_connection(**kwargs):
    default = settings.DATABASES["default"]
    return MySQLdb.connect(host=default["HOST"], port=int(default["PORT"] or 3306), user=default["USER"], **kwargs)


def _password(provision, principal: str, server: str) -> str:
    lines = provision.credentials.read_text().splitlines()
    stored = dict(line.split("=", 1) for line in lines)
    return stored[access_password_variables(PRINCIPALS[principal])[server]]


def _connect_as(provision, principal: str, alias: str):
    database = settings.DATABASES[alias]
    return MySQLdb.connect(
        host=database["HOST"],
        port=int(database["PORT"] or 3306),
        user=access_user(prefix=provision.prefix, principal=principal),
        password=_password(provision, principal, "database"),
        database=database["NAME"],
    )


def _broker_channel(provision, principal: str):
    connection = amqp.Connection(
        "127.0.0.1:5672",
        userid=access_user(prefix=provision.prefix, principal=principal),
        password=_password(provision, principal, "broker"),
        virtual_host=provision.vhost,
    )
    connection.connect()
    channel = connection.channel()
    channel.confirm_select()
    return connection, channel


def _inbox_insert(cursor) -> None:
    cursor.execute(
        "INSERT INTO messaging_inbox (message_id, queue, routing_key, received_at) VALUES (%s, 'q', 'k', NOW())",
        [str(uuid.uuid4())],
    )


def test_the_inventory_consumer_writes_inventory_and_cannot_write_payments(provision):
    provision()
    payments = settings.DATABASES["payments"]["NAME"]

    connection = _connect_as(provision, "inventory-consumer", "inventory")
    try:
        cursor = connection.cursor()
        _inbox_insert(cursor)
        connection.commit()
        with pytest.raises(MySQLdb.OperationalError) as refused:
            cursor.execute(f"DELETE FROM `{payments}`.messaging_inbox")
    finally:
        connection.close()
    with pytest.raises(MySQLdb.OperationalError) as no_database:
        _connect_as(provision, "inventory-consumer", "payments")

    assert refused.value.args[0] == 1142, refused.value  # DELETE command denied
    assert no_database.value.args[0] == 1044, no_database.value  # access denied to the database


def test_the_relay_reaches_only_the_outbox_and_inbox_of_another_apps_database(provision):
    provision()
    connection = _connect_as(provision, "relay", "inventory")
    try:
        cursor = connection.cursor()
        cursor.execute("UPDATE messaging_outbox SET publish_attempts = 0 WHERE 1 = 0")
        with pytest.raises(MySQLdb.OperationalError) as refused:
            cursor.execute("SELECT 1 FROM inventory LIMIT 1")
    finally:
        connection.close()

    assert refused.value.args[0] == 1142, refused.value


def test_the_web_may_send_its_commands_but_never_a_reply_event(provision):
    provision()
    connection, channel = _broker_channel(provision, "web")
    try:
        channel.basic_publish_confirm(amqp.Message(b"{}"), exchange="saga.commands", routing_key="inventory.reserve")
        with pytest.raises(amqp.exceptions.AccessRefused) as refused:
            channel.basic_publish_confirm(amqp.Message(b"{}"), exchange="saga.events", routing_key="inventory.reserved")
    finally:
        connection.collect()

    assert "ACCESS_REFUSED" in str(refused.value)


def test_a_consumer_may_publish_its_own_events_and_no_other(provision):
    provision()
    connection, channel = _broker_channel(provision, "inventory-consumer")
    try:
        channel.basic_publish_confirm(amqp.Message(b"{}"), exchange="saga.events", routing_key="inventory.reserved")
        with pytest.raises(amqp.exceptions.AccessRefused) as refused:
            channel.basic_publish_confirm(amqp.Message(b"{}"), exchange="saga.events", routing_key="payment.processed")
    finally:
        connection.collect()

    assert "ACCESS_REFUSED" in str(refused.value)


def test_no_provisioned_broker_user_is_an_administrator(provision):
    result = provision()
    output = subprocess.run(
        ["rabbitmqctl", "-q", "list_users", "--formatter", "json"], check=True, capture_output=True, timeout=60
    ).stdout
    tags = {user["user"]: user["tags"] for user in json.loads(output) if user["user"].startswith(provision.prefix)}

    assert set(tags) == set(result.broker_users)
    assert len(tags) == len([principal for principal in PRINCIPALS.values() if principal.broker is not None])
    assert all(not user_tags for user_tags in tags.values()), tags


def test_provisioning_twice_changes_nothing_and_every_user_still_connects(provision):
    first = provision()
    credentials = provision.credentials.read_text()
    grants = _grants(provision)
    permissions = _permissions(provision.vhost)

    second = provision()

    assert (second.database_users, second.broker_users, second.pending_grants) == (
        first.database_users,
        first.broker_users,
        [],
    )
    assert provision.credentials.read_text() == credentials
    assert _grants(provision) == grants
    assert _permissions(provision.vhost) == permissions
    _connect_as(provision, "web", "default").close()
    _broker_channel(provision, "relay")[0].collect()


def test_without_a_credentials_file_every_password_must_come_from_the_environment(provision):
    with pytest.raises(MissingPassword, match="DB_PASSWORD_WEB"):
        provision(credentials_file=None, environ={})


def _grants(provision) -> dict[str, list]:
    server = _server_connection()
    try:
        cursor = server.cursor()
        grants = {}
        for principal in PRINCIPALS.values():
            if principal.databases:
                cursor.execute(
                    "SHOW GRANTS FOR %s@'%%'", [access_user(prefix=provision.prefix, principal=principal.name)]
                )
                grants[principal.name] = sorted(row[0] for row in cursor.fetchall())
        return grants
    finally:
        server.close()


def _permissions(vhost: str) -> list:
    output = subprocess.run(
        ["rabbitmqctl", "-q", "list_permissions", "-p", vhost, "--formatter", "json"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    return sorted(json.loads(output), key=lambda row: row["user"])


def test_the_ops_user_looks_at_redrives_and_purges_a_dlq_and_consumes_nothing_else(provision):
    from apps.messaging.dlq import dlq_depths, dlq_peek, dlq_purge, dlq_redrive

    provision()
    user, password = access_user(prefix=provision.prefix, principal="ops"), _password(provision, "ops", "broker")
    ops_url = f"amqp://{user}:{password}@127.0.0.1:5672/{provision.vhost}"
    guest = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest", virtual_host=provision.vhost)
    guest.connect()
    headers = {"x-original-exchange": "saga.commands", "x-original-routing-key": "inventory.reserve"}
    publisher = guest.channel()
    for _ in range(2):
        message = amqp.Message(b"{}", message_id=str(uuid.uuid4()), application_headers=headers)
        # Confirmed, so both letters are in the DLQ before the ops user looks.
        publisher.basic_publish_confirm(message, exchange="", routing_key="inventory.commands.dlq")
    guest.collect()

    [letter, _] = dlq_peek(queue="inventory.commands", limit=5, url=ops_url)
    redriven = dlq_redrive(queue="inventory.commands", limit=1, url=ops_url)
    depths = {depth.queue: depth.messages for depth in dlq_depths(url=ops_url)}
    purged = dlq_purge(queue="inventory.commands", url=ops_url)
    connection, channel = _broker_channel(provision, "ops")
    try:
        with pytest.raises(amqp.exceptions.AccessRefused):
            channel.basic_get("inventory.commands")
    finally:
        connection.collect()

    assert redriven.redriven == [letter.message_id]
    assert redriven.failed == {}
    assert depths["inventory.commands.dlq"] == 1
    assert purged == 1
