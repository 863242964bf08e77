"""Each app database on its own MariaDB server: the saga never needed them to share one.

The test starts two more mariadbd servers (own datadir, socket and port in a
temporary directory), puts orders on one, inventory on the other and payments
on the usual server, then runs the happy path and a compensation.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import MySQLdb
import pytest

from tests.stack import MARIADB, URL_VARIABLES, Stack, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.rabbitmq]


class MariadbServer:
    """A throwaway mariadbd with no grant tables: root from 127.0.0.1, no password."""

    def __init__(self, name: str):
        # Short path: a Unix socket path must fit in 108 bytes.
        self.directory = Path(tempfile.mkdtemp(prefix=f"mdb-{name}-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> "MariadbServer":
        datadir = self.directory / "data"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--skip-test-db", *as_root],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.process = subprocess.Popen(
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={self.directory / 'mariadb.sock'}",
                f"--pid-file={self.directory / 'mariadb.pid'}",
                f"--log-error={self.directory / 'error.log'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--skip-grant-tables",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--max-connections=200",
                *as_root,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(MySQLdb.OperationalError):
                MySQLdb.connect(host="127.0.0.1", port=self.port, user="root").close()
                return self
            assert self.process.poll() is None, (self.directory / "error.log").read_text()
            time.sleep(0.2)
        raise AssertionError(f"mariadbd on {self.port} did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


class SeparateServersStack(Stack):
    """A Stack whose app databases live on the servers given per alias (the others on the usual one)."""

    def __init__(self, workdir: Path, *, ports: dict[str, int], env: dict[str, str] | None = None):
        # Root on each server: the stack's provisioned users and their URLs are the main server's.
        super().__init__(workdir, env=env, least_privilege=False)
        self.ports = {alias: ports.get(alias, MARIADB["port"]) for alias in self.databases}
        for alias, port in self.ports.items():
            self.base_env[URL_VARIABLES[alias]] = f"mysql://root@127.0.0.1:{port}/{self.databases[alias]}"

    def sql(self, alias: str, query: str, params=()) -> list[tuple]:
        connection = MySQLdb.connect(**{**MARIADB, "port": self.ports[alias]}, database=self.databases[alias])
        try:
            cursor = connection.cursor()
            cursor.execute(query, params)
            return list(cursor.fetchall())
        finally:
            connection.close()


def databases_on(port: int) -> set[str]:
    connection = MySQLdb.connect(**{**MARIADB, "port": port})
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW DATABASES")
        return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


@pytest.fixture(scope="module")
def servers():
    started = []
    try:
        for name in ("orders", "inventory"):
            started.append(MariadbServer(name).start())
        yield dict(zip(("orders", "inventory"), started, strict=True))
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory):
    running = SeparateServersStack(
        tmp_path_factory.mktemp("stack"), ports={alias: server.port for alias, server in servers.items()}
    ).create()
    try:
        running.start_all()
        yield running
    finally:
        running.close()


def test_each_app_database_lives_on_its_own_server(stack, servers):
    assert stack.databases["orders"] in databases_on(servers["orders"].port)
    assert stack.databases["inventory"] in databases_on(servers["inventory"].port)
    on_the_usual_server = databases_on(MARIADB["port"])
    assert stack.databases["payments"] in on_the_usual_server
    assert {stack.databases["orders"], stack.databases["inventory"]} & on_the_usual_server == set()


def test_happy_path_across_three_servers(stack):
    stack.seed(5001, 20)
    placed = stack.place_order(product_id=5001, quantity=4, amount="40.00")

    assert stack.wait_terminal([placed["order_id"]], timeout=30) == {placed["order_id"]: "CONFIRMED"}
    assert stack.sql(
        "inventory", "SELECT available_qty, reserved_qty + sold_qty FROM inventories WHERE product_id = 5001"
    ) == [(16, 4)]
    assert stack.sql("payments", "SELECT status FROM payments WHERE order_id = %s", [placed["order_id"]]) == [
        ("SUCCESS",)
    ]
    assert stack.sql(
        "orders", "SELECT status, current_step FROM saga_states WHERE order_id = %s", [placed["order_id"]]
    ) == [("COMPLETED", "DONE")]


def test_payment_failure_compensates_across_three_servers(stack):
    stack.seed(5002, 10)
    stack.stop("payments-consumer")
    stack.start("payments-consumer", env={"PAYMENT_FAILURE_RATE": "1.0"})
    try:
        placed = stack.place_order(product_id=5002, quantity=3)
        statuses = stack.wait_terminal([placed["order_id"]], timeout=30)
    finally:
        stack.stop("payments-consumer")
        stack.start("payments-consumer")

    assert statuses == {placed["order_id"]: "COMPENSATED"}
    assert stack.sql(
        "inventory", "SELECT available_qty, reserved_qty + sold_qty FROM inventories WHERE product_id = 5002"
    ) == [(10, 0)]
    assert stack.sql(
        "inventory", "SELECT action, quantity FROM inventory_logs WHERE order_id = %s ORDER BY id", [placed["order_id"]]
    ) == [("RESERVE", 3), ("RELEASE", 3)]
    assert stack.sql("payments", "SELECT status FROM payments WHERE order_id = %s", [placed["order_id"]]) == [
        ("FAILED",)
    ]
