"""The embedded mode: web, relay, consumers and recovery in ONE process on SQLite and memory://."""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.stack import ROOT, URL_VARIABLES, free_port

pytestmark = [pytest.mark.embedded]
ADMIN = ("admin", "embedded-pass-123")
OPERATOR = "embedded-operator"


class Embedded:
    def __init__(self, var_dir: Path):
        self.var_dir = var_dir
        self.port = free_port()
        self.process = None
        self.token = ""
        self.env: dict[str, str] = {}
        self.log_path = var_dir / "embedded.log"

    def start(self, **env) -> "Embedded":
        process_env = {
            key: value
            for key, value in os.environ.items()
            if key not in URL_VARIABLES.values() and key not in ("CELERY_BROKER_URL", "TEST_DB", "CRASH_POINTS")
        }
        process_env.update(
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            VAR_DIR=str(self.var_dir),
            LOG_FORMAT="json",
            PYTHONUNBUFFERED="1",
            DJANGO_SUPERUSER_USERNAME=ADMIN[0],
            DJANGO_SUPERUSER_PASSWORD=ADMIN[1],
            **env,
        )
        self.env = process_env
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_embedded", f"127.0.0.1:{self.port}"],
                cwd=ROOT,
                env=process_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait(lambda: self.http("GET", "/health")[0] == 200, "the embedded process serves", timeout=60)
        created = subprocess.run(
            [sys.executable, "manage.py", "create_customer", OPERATOR, "--seed-operator"],
            cwd=ROOT,
            env=process_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        self.token = created.stdout.strip()
        return self

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def http(self, method, path, body=None, *, staff=False):
        """A request as the seed operator (staff: kept for readability, the operator is staff)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        except OSError:
            return 0, {}

    def wait(self, predicate, what, timeout=10.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None and what != "the process died":
                break
            if predicate():
                return time.monotonic() - started
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log_path.read_text(errors='replace')[-4000:]}")

    def order_status(self, order_id) -> str:
        return self.http("GET", f"/orders/{order_id}")[1].get("status", "")


@pytest.fixture
def embedded(tmp_path):
    instances = []

    def start(**env):
        instance = Embedded(tmp_path).start(**env)
        instances.append(instance)
        return instance

    yield start
    for instance in instances:
        instance.stop()


def place(app, product_id, quantity=1):
    status, body = app.http(
        "POST", "/orders", {"user_id": 7, "product_id": product_id, "quantity": quantity, "total_amount": "10.00"}
    )
    assert status == 201, body
    return body


def stock(app, product_id) -> tuple[int, int, int]:
    inventory = app.http("GET", f"/inventory/{product_id}")[1]
    return inventory["available_qty"], inventory["reserved_qty"], inventory["sold_qty"]


def test_an_order_is_confirmed_within_a_second_in_one_process(embedded):
    app = embedded()
    assert app.http("POST", "/inventory", {"product_id": 1, "available_qty": 5}, staff=True)[0] == 201

    placed = place(app, 1, quantity=2)
    elapsed = app.wait(lambda: app.order_status(placed["order_id"]) == "CONFIRMED", "CONFIRMED", timeout=1.0)

    assert elapsed < 1.0
    app.wait(lambda: stock(app, 1) == (3, 0, 2), "the reservation committed as sold", timeout=5)
    assert app.http("GET", f"/payments/{placed['order_id']}")[1]["status"] == "SUCCESS"


def test_a_declined_payment_is_compensated_in_one_process(embedded):
    app = embedded(PAYMENT_FAILURE_RATE="1.0")
    assert app.http("POST", "/inventory", {"product_id": 2, "available_qty": 5}, staff=True)[0] == 201

    placed = place(app, 2, quantity=3)
    app.wait(lambda: app.order_status(placed["order_id"]) == "COMPENSATED", "COMPENSATED", timeout=5)

    assert stock(app, 2) == (5, 0, 0)
    assert app.http("GET", f"/sagas/{placed['saga_id']}", staff=True)[1]["saga"]["status"] == "COMPENSATED"


def test_a_crash_mid_saga_loses_nothing_after_restart(embedded, tmp_path):
    first = embedded(CRASH_POINTS="consumer.after_commit")
    assert first.http("POST", "/inventory", {"product_id": 3, "available_qty": 5}, staff=True)[0] == 201

    # The inventory consumer commits the reservation, then the whole process dies before the ack
    # (possibly before the HTTP response is even written: read the order from the database).
    first.http("POST", "/orders", {"user_id": 7, "product_id": 3, "quantity": 1, "total_amount": "10.00"})
    first.process.wait(timeout=10)
    assert first.process.returncode == -signal.SIGKILL
    with sqlite3.connect(tmp_path / "orders.sqlite3") as orders_db:
        [(order_id, saga_status)] = orders_db.execute("SELECT order_id, status FROM saga_states").fetchall()
    assert saga_status == "IN_PROGRESS"

    second = embedded()
    second.wait(lambda: second.order_status(order_id) == "CONFIRMED", "CONFIRMED after restart", timeout=10)
    second.wait(lambda: stock(second, 3) == (4, 0, 1), "the reservation committed as sold", timeout=10)


def test_a_confirmed_order_is_cancelled_refunded_and_restocked_in_one_process(embedded):
    app = embedded()
    assert app.http("POST", "/inventory", {"product_id": 4, "available_qty": 5}, staff=True)[0] == 201
    placed = place(app, 4, quantity=2)
    app.wait(lambda: stock(app, 4) == (3, 0, 2), "the order confirmed and its units sold", timeout=5)

    status, body = app.http("POST", f"/orders/{placed['order_id']}/cancel", {"reason": "changed my mind"})

    assert (status, body["status"]) == (202, "CANCELLING")
    app.wait(lambda: app.order_status(placed["order_id"]) == "CANCELLED", "CANCELLED", timeout=5)
    app.wait(lambda: stock(app, 4) == (5, 0, 0), "the units back on sale", timeout=5)
    assert app.http("GET", f"/payments/{placed['order_id']}")[1]["status"] == "REFUNDED"


def test_make_run_on_a_taken_port_stops_before_it_sets_anything_up(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        addrport = f"127.0.0.1:{listener.getsockname()[1]}"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in URL_VARIABLES.values()
            and key not in ("CELERY_BROKER_URL", "TEST_DB", "DJANGO_SETTINGS_MODULE")
        }
        ran = subprocess.run(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env={**env, "ADDRPORT": addrport, "VAR_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert ran.returncode != 0
    # make's own report of the failure says "make:", or "make[1]:" when the tests run under make.
    [refusal] = [line for line in ran.stderr.splitlines() if not re.match(r"make(\[\d+\])?:", line)]
    assert f"{addrport} is already in use" in refusal
    assert "ADDRPORT=" in refusal
    assert "consumer.started" not in ran.stdout + ran.stderr, "no consumer was started"
    assert not list(tmp_path.glob("*.sqlite3")), "no database was created"
