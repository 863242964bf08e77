"""A stack whose database and broker URLs carry passwords, one broker user per app: no log line holds one."""

import contextlib
import secrets
import time

import MySQLdb
import pytest

from tests.e2e.test_delivery import kill_database_connections, rabbitmqctl_close_vhost_connections
from tests.faults.harness import Load
from tests.stack import MARIADB, RABBITMQ_HOST, URL_VARIABLES, Stack, rabbitmqctl

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]

# Which broker user each process connects as (MESSAGING_BROKER_URL / CELERY_BROKER_URL per process).
BROKER_USERS = {
    "relay": "relay",
    "orders-consumer": "orders",
    "inventory-consumer": "inventory",
    "payments-consumer": "payments",
}


@pytest.fixture
def password_stack(tmp_path):
    # Its own users and passwords, set up here, instead of the provisioned ones.
    stack = Stack(tmp_path / "stack", least_privilege=False)
    db_user, db_password = f"u{secrets.token_hex(6)}", new_password()
    broker_password = {app: new_password() for app in set(BROKER_USERS.values())}
    broker_user = {app: f"{stack.vhost}_{app}" for app in broker_password}
    server = MySQLdb.connect(**MARIADB)
    cursor = server.cursor()
    pattern = stack.name.replace("_", "\\_") + "\\_%"
    for host in ("127.0.0.1", "localhost"):
        cursor.execute(f"CREATE USER '{db_user}'@'{host}' IDENTIFIED BY %s", [db_password])
        cursor.execute(f"GRANT ALL PRIVILEGES ON `{pattern}`.* TO '{db_user}'@'{host}'")
    stack.base_env.update(
        {
            URL_VARIABLES[alias]: f"mysql://{db_user}:{db_password}@127.0.0.1:3306/{database}"
            for alias, database in stack.databases.items()
        }
    )
    stack.base_env["CELERY_BROKER_URL"] = broker_url(broker_user["relay"], broker_password["relay"], stack.vhost)
    try:
        stack.create()
        for app, user in broker_user.items():
            rabbitmqctl("add_user", user, broker_password[app])
            rabbitmqctl("set_permissions", "-p", stack.vhost, user, ".*", ".*", ".*")
        stack.broker_env = {
            process: {
                "MESSAGING_BROKER_URL": broker_url(broker_user[app], broker_password[app], stack.vhost),
            }
            for process, app in BROKER_USERS.items()
        }
        stack.passwords = [db_password, *broker_password.values()]
        yield stack
    finally:
        stack.close()
        for user in broker_user.values():
            with contextlib.suppress(Exception):
                rabbitmqctl("delete_user", user)
        for host in ("127.0.0.1", "localhost"):
            cursor.execute(f"DROP USER IF EXISTS '{db_user}'@'{host}'")
        server.close()


def new_password() -> str:
    """A URL-safe random password; never with a leading '-', which rabbitmqctl would read as an option."""
    return f"p{secrets.token_urlsafe(18)}"


def broker_url(user: str, password: str, vhost: str) -> str:
    return f"amqp://{user}:{password}@{RABBITMQ_HOST}/{vhost}"


def test_no_password_reaches_any_log_even_when_connections_fail(password_stack):
    stack = password_stack
    stack.start("web")
    stack.start("beat")
    for process, env in stack.broker_env.items():
        stack.start(process, env=env)
    stack.wait_until(stack._web_ready, timeout=60, what="web up")
    stack.seed(8001, 1000)
    placed = [stack.place_order(product_id=8001)["order_id"] for _ in range(20)]
    # Failures are what print URLs and tracebacks: drop every broker and database connection once.
    rabbitmqctl_close_vhost_connections(stack.vhost)
    kill_database_connections(stack)
    time.sleep(1)
    # A request on a killed database connection fails once (500); the client retries with its Idempotency-Key.
    placed += Load(stack, products=[8001], count=20).finish()

    assert set(stack.wait_terminal(placed, timeout=90).values()) == {"CONFIRMED"}
    logs = {path.name: path.read_text(errors="replace") for path in stack.workdir.glob("*.log")}
    assert set(logs) >= {"web.log", "relay.log", "beat.log", "orders-consumer.log"}
    leaks = {name: password for name, text in logs.items() for password in stack.passwords if password in text}
    assert leaks == {}
    for process in BROKER_USERS:
        assert "consumer.disconnected" in logs[f"{process}.log"] or process == "relay", process
