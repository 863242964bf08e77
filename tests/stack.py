"""A real stack for end-to-end tests: the Procfile's processes on MariaDB and RabbitMQ.

Each stack gets fresh databases and a fresh RabbitMQ vhost, starts the processes
it is asked for as subprocesses (each in its own process group, with its log in
a file), and removes everything when closed.

Every process runs as its own MariaDB and RabbitMQ users, which ``manage.py
provision_access`` creates with the rights of apps/access/plan.py, and gets only
its own URLs (and signing keys, where the environment sets them); migrations run
as the migrate user. The harness itself (``manage``, ``sql``) stays the operator
at the console: root and guest.
"""

import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import MySQLdb

from apps.access.plan import PRINCIPALS
from apps.access.services import access_password_variables, access_user

ROOT = Path(__file__).resolve().parent.parent
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root"}
RABBITMQ_HOST = "127.0.0.1:5672"
ALIASES = ("default", "orders", "inventory", "payments")
URL_VARIABLES = {
    "default": "DATABASE_URL",
    "orders": "ORDERS_DATABASE_URL",
    "inventory": "INVENTORY_DATABASE_URL",
    "payments": "PAYMENTS_DATABASE_URL",
}
STAFF = ("e2e-admin", "e2e-password-123")
# Every request of the harness runs as this user, staff with the seed's permissions (create_customer --seed-operator).
OPERATOR = "e2e-operator"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BROKER_URL_VARIABLES = ("CELERY_BROKER_URL", "MESSAGING_BROKER_URL")
SIGNING_KEY_VARIABLES = sorted({name for principal in PRINCIPALS.values() for name in principal.signing_keys})
_counter = itertools.count(1)


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


# Below Linux's ephemeral range (32768-60999): a port the kernel picked (bind to 0) is one an outgoing
# connection of any process may take before the process it was meant for binds it, as a consumer's
# metrics port once was. Above RabbitMQ's and the cluster's distribution ports (25672, 25680s).
_LISTEN_PORTS = range(27000, 32700)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never handed out before in this run."""
    start = random.randrange(len(_LISTEN_PORTS))
    for port in itertools.chain(_LISTEN_PORTS[start:], _LISTEN_PORTS[:start]):
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {_LISTEN_PORTS}")


class Stack:
    """``mariadb`` (connection arguments) and ``broker_hosts`` (host:port, several for a cluster:
    the URL becomes kombu's ``;``-separated failover list) default to the local servers;
    ``rabbitmqctl`` is how the stack's vhost is added and deleted. ``least_privilege`` false: every
    process runs as root and guest, as the cluster runs, whose brokers the local rabbitmqctl
    cannot reach to provision them."""

    def __init__(
        self,
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        mariadb: dict | None = None,
        broker_hosts: list[str] | None = None,
        rabbitmqctl: Callable[..., None] = rabbitmqctl,
        least_privilege: bool = True,
    ):
        self.mariadb = mariadb or MARIADB
        self.least_privilege = least_privilege
        self.broker_hosts = broker_hosts or [RABBITMQ_HOST]
        self._rabbitmqctl = rabbitmqctl
        database_server = f"{self.mariadb['user']}@{self.mariadb['host']}:{self.mariadb['port']}"
        run_id = os.environ.get("TEST_RUN_ID", "local")
        self.name = f"e2e_{run_id}_{os.getpid()}_{next(_counter)}"
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.databases = {alias: f"{self.name}_{alias}" for alias in ALIASES}
        self.vhost = self.name
        self.user_prefix = f"{self.name}-"
        self.credentials_file = self.workdir / "access.env"
        self.port = free_port()
        self.token = ""
        self.processes: dict[str, subprocess.Popen] = {}
        self.metrics_ports: dict[str, int] = {}
        self._log_files = {}
        self.base_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.dev",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONUNBUFFERED": "1",
            "LOG_FORMAT": "json",
            # Whatever the shell says: a test that looks at spans sets its own exporter.
            "OTEL_TRACES_EXPORTER": "none",
            "VAR_DIR": str(self.workdir),
            "CELERY_BROKER_URL": ";".join(f"amqp://guest:guest@{host}/{self.vhost}" for host in self.broker_hosts),
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "2",
            "RELAY_SWEEP_INTERVAL": "1",
            "SAGA_RECOVERY_INTERVAL": "5",
            "SAGA_RECOVERY_AGE": "10",
            "RETRY_DELAY_MS": "200",
            # Fault scenarios hold steps back on purpose (a consumer killed, a relay down): keep
            # deadlines out of their way; tests about deadlines set short ones.
            "SAGA_STEP_DEADLINE_RESERVING_INVENTORY": "300",
            "SAGA_STEP_DEADLINE_PROCESSING_PAYMENT": "300",
            "DJANGO_SUPERUSER_USERNAME": STAFF[0],
            "DJANGO_SUPERUSER_PASSWORD": STAFF[1],
            "DJANGO_SUPERUSER_EMAIL": "e2e@example.com",
            # The throttles count in the machine's Redis, under this stack's own keys. Scenarios send
            # bursts as one user from one address: the order throttles are off unless a test sets them
            # (tests/e2e/test_limits.py), as DRF keeps one timestamp per counted request.
            "REDIS_URL": REDIS_URL,
            "CACHE_KEY_PREFIX": self.name,
            "THROTTLE_ORDERS_USER": "off",
            "THROTTLE_ORDERS_IP": "off",
            **{URL_VARIABLES[alias]: f"mysql://{database_server}/{db}" for alias, db in self.databases.items()},
            **(env or {}),
        }
        for variable in ("TEST_DB", "CRASH_POINTS", "PAYMENT_FAILURE_RATE"):
            if variable not in (env or {}):
                self.base_env.pop(variable, None)

    # --- lifecycle ---------------------------------------------------------
    def create(self) -> "Stack":
        self._rabbitmqctl("add_vhost", self.vhost)
        self._rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        if self.least_privilege:
            self.provision()
            self.manage("migrate_all", "--verbosity", "0", env=self.principal_env("migrate"))
            # Again, now that the tables of the table-level grants exist.
            self.provision()
        else:
            self.manage("migrate_all", "--verbosity", "0")
        self.manage("createsuperuser", "--noinput")
        self.token = self.manage("create_customer", OPERATOR, "--seed-operator").stdout.strip()
        return self

    def provision(self) -> subprocess.CompletedProcess:
        """``manage.py provision_access`` for this stack's users, passwords kept in its credentials file."""
        return self.manage(
            "provision_access",
            *("--prefix", self.user_prefix, "--vhost", self.vhost),
            *("--credentials-file", str(self.credentials_file)),
        )

    def passwords(self) -> dict[str, str]:
        """The provisioned passwords by variable (DB_PASSWORD_WEB, BROKER_PASSWORD_WEB, ...)."""
        lines = self.credentials_file.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def process_env(self, name: str) -> dict[str, str]:
        """The environment Procfile process ``name`` runs with, but for its instance's names and ports."""
        return _without_removed({**self.base_env, **(self.principal_env(name) if self.least_privilege else {})})

    def principal_env(self, name: str) -> dict[str, str | None]:
        """What process ``name`` (or the migrate role) gets instead of root, guest and every key: its own
        users' URLs, its own signing keys. None: the variable is removed."""
        principal = PRINCIPALS[name]
        passwords = self.passwords()
        variables = access_password_variables(principal)
        user = access_user(prefix=self.user_prefix, principal=name)
        env: dict[str, str | None] = {variable: None for variable in URL_VARIABLES.values()}
        for alias in principal.databases:
            password = passwords[variables["database"]]
            address = f"{self.mariadb['host']}:{self.mariadb['port']}"
            env[URL_VARIABLES[alias]] = f"mysql://{user}:{password}@{address}/{self.databases[alias]}"
        broker_url = "memory://"
        if principal.broker is not None:
            password = passwords[variables["broker"]]
            broker_url = ";".join(f"amqp://{user}:{password}@{host}/{self.vhost}" for host in self.broker_hosts)
        env.update(dict.fromkeys(BROKER_URL_VARIABLES, broker_url))
        # Only its own routes' keys, when the environment sets them. With none set (make test) every process
        # derives each route's key from the shared development SECRET_KEY, as the harness does when it signs.
        env.update(dict.fromkeys(set(SIGNING_KEY_VARIABLES) - set(principal.signing_keys)))
        # provision_access declared the topology; a process may only check it.
        env["RABBITMQ_DECLARE_TOPOLOGY"] = "false"
        return env

    def auth_headers(self) -> dict[str, str]:
        """The operator's ``Authorization: Bearer`` header, for clients other than ``http``."""
        return {"Authorization": f"Bearer {self.token}"}

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        for handle in self._log_files.values():
            handle.close()
        connection = MySQLdb.connect(**self.mariadb)
        try:
            for db in self.databases.values():
                connection.cursor().execute(f"DROP DATABASE IF EXISTS `{db}`")
        finally:
            connection.close()
        with contextlib.suppress(subprocess.CalledProcessError):
            self._rabbitmqctl("delete_vhost", self.vhost)
        if self.least_privilege:
            self._drop_users()

    def _drop_users(self) -> None:
        connection = MySQLdb.connect(**self.mariadb)
        try:
            for principal in PRINCIPALS.values():
                user = access_user(prefix=self.user_prefix, principal=principal.name)
                if principal.databases:
                    connection.cursor().execute("DROP USER IF EXISTS %s@'%%'", [user])
                if principal.broker is not None:
                    with contextlib.suppress(subprocess.CalledProcessError):
                        self._rabbitmqctl("delete_user", user)
        finally:
            connection.close()

    def manage(self, *args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=_without_removed({**self.base_env, **(env or {})}),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def start(self, name: str, *, env: dict[str, str] | None = None, instance: str = "") -> subprocess.Popen:
        """Start the Procfile process ``name`` (``instance`` tells copies apart)."""
        key = f"{name}{instance}"
        assert key not in self.processes or self.processes[key].poll() is not None, f"{key} already runs"
        log_path = self.workdir / f"{key}.log"
        handle = self._log_files.get(key) or open(log_path, "ab")  # noqa: SIM115 -- closed in close()
        self._log_files[key] = handle
        metrics_port = self.metrics_ports.setdefault(key, free_port())
        process_env = {
            **self.process_env(name),
            "SERVICE_NAME": key,
            "RELAY_NAME": key,
            "METRICS_PORT": str(metrics_port),
            **(env or {}),
        }
        process = subprocess.Popen(
            ["bash", "-c", f"exec {procfile()[name]}"],
            cwd=ROOT,
            env=_without_removed(process_env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[key] = process
        return process

    def start_all(self, *names: str) -> None:
        for name in names or ("web", "relay", "beat", "orders-consumer", "inventory-consumer", "payments-consumer"):
            self.start(name)
        self.wait_until(lambda: self._web_ready(), timeout=60, what="web answers /health")

    def stop(self, key: str, *, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        process = self.processes.pop(key, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def kill(self, key: str) -> None:
        self.stop(key, sig=signal.SIGKILL)

    def log(self, key: str) -> str:
        path = self.workdir / f"{key}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def json_logs(self, key: str) -> list[dict]:
        records = []
        for line in self.log(key).splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records

    def metrics(self, key: str) -> dict[tuple[str, tuple], float]:
        """The Prometheus samples a process serves on its metrics port (the web's: its gunicorn master):
        {(name, sorted labels): value}."""
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_ports[key]}/metrics", timeout=10) as response:
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    # --- HTTP --------------------------------------------------------------
    def http(
        self,
        method: str,
        path: str,
        body=None,
        *,
        staff: bool = False,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict]:
        """A request as the operator (``staff`` is kept for readability: the operator is staff), or with
        ``token`` (``""``: anonymous)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        request.add_header("Accept", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        token = self.token if token is None else token
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def _web_ready(self) -> bool:
        try:
            return self.http("GET", "/health")[0] == 200
        except OSError:
            return False

    def seed(self, product_id: int, available_qty: int, *, unit_price: str | None = None) -> None:
        body = {"product_id": product_id, "available_qty": available_qty}
        if unit_price is not None:
            body["unit_price"] = unit_price
        status, answer = self.http("POST", "/inventory", body, staff=True)
        assert status == 201, answer

    def seed_once(self, product_id: int, available_qty: int, *, unit_price: str | None = None) -> None:
        """``seed``, unless a test sharing the stack already did."""
        if self.http("GET", f"/inventory/{product_id}")[0] == 404:
            self.seed(product_id, available_qty, unit_price=unit_price)

    def customer(self, username: str, *flags: str) -> tuple[int, str]:
        """A user made with ``manage.py create_customer`` (``flags`` such as ``--staff``): (user id, token)."""
        token = self.manage("create_customer", username, *flags).stdout.strip()
        return self.user_id(username), token

    def user_id(self, username: str) -> int:
        [(user_id,)] = self.sql("default", "SELECT id FROM auth_user WHERE username = %s", [username])
        return user_id

    def place(self, body: dict, *, token: str | None = None, key: str | None = None) -> dict:
        """POST /orders with ``body`` as ``token``'s user (the operator by default); the 201's body."""
        headers = {"Idempotency-Key": key} if key else {}
        status, answer = self.http("POST", "/orders", body, token=token, headers=headers)
        assert status == 201, answer
        return answer

    def place_order(self, *, product_id: int, quantity: int = 1, user_id: int = 42, amount: str = "19.99") -> dict:
        status, body = self.http(
            "POST",
            "/orders",
            {"user_id": user_id, "product_id": product_id, "quantity": quantity, "total_amount": amount},
        )
        assert status == 201, body
        return body

    def order(self, order_id: int) -> dict:
        status, body = self.http("GET", f"/orders/{order_id}")
        assert status == 200, body
        return body

    def inventory(self, product_id: int) -> dict:
        status, body = self.http("GET", f"/inventory/{product_id}")
        assert status == 200, body
        return body

    def stock(self, product_id: int) -> tuple[int, int, int]:
        """(available, reserved, sold) of a product."""
        body = self.inventory(product_id)
        return body["available_qty"], body["reserved_qty"], body["sold_qty"]

    def wait_stock(self, product_id: int, expected: tuple[int, int, int], *, timeout: float = 30) -> None:
        """Wait for (available, reserved, sold): a completed order's commit lands just after its saga ends."""
        self.wait_until(
            lambda: self.stock(product_id) == expected,
            timeout=timeout,
            what=f"stock of {product_id} == {expected} (now {self.stock(product_id)})",
        )

    # --- direct reads --------------------------------------------------------
    def sql(self, alias: str, query: str, params=()) -> list[tuple]:
        connection = MySQLdb.connect(**self.mariadb, database=self.databases[alias])
        try:
            cursor = connection.cursor()
            cursor.execute(query, params)
            return list(cursor.fetchall())
        finally:
            connection.close()

    def wait_until(self, predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if predicate():
                return time.monotonic() - started
            time.sleep(interval)
        logs = "\n".join(f"--- {key} ---\n{self.log(key)[-3000:]}" for key in self._log_files)
        raise AssertionError(f"timed out after {timeout}s waiting for: {what}\n{logs}")

    def wait_terminal(self, order_ids, *, timeout: float = 60) -> dict[int, str]:
        """Wait until every order is CONFIRMED, FAILED-and-settled or COMPENSATED; return their statuses."""
        ids = list(order_ids)
        placeholders = ",".join(["%s"] * len(ids))

        def statuses():
            rows = self.sql(
                "orders",
                f"SELECT order_id, status FROM saga_states WHERE order_id IN ({placeholders})",
                ids,
            )
            return dict(rows)

        self.wait_until(
            lambda: (
                all(status in ("COMPLETED", "COMPENSATED", "FAILED") for status in statuses().values())
                and len(statuses()) == len(ids)
            ),
            timeout=timeout,
            what=f"{len(ids)} sagas terminal",
            interval=0.3,
        )
        rows = self.sql("orders", f"SELECT id, status FROM orders WHERE id IN ({placeholders})", ids)
        return dict(rows)


def _without_removed(env: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in env.items() if value is not None}
