"""Provisioning: create every process's MariaDB and RabbitMQ users with exactly the rights of the plan.

Idempotent: users are created when missing and otherwise get their password
set again, grants are repeated, and RabbitMQ's definitions import overwrites a
user, its permissions and its topic permissions with the same values. Grants
are only ever added: a right taken out of the plan is revoked by hand
(docs/operations.md).

A table-level grant needs its table: before ``migrate_all`` has created it,
the grant is reported as pending and the next run makes it.
"""

import base64
import dataclasses
import hashlib
import json
import os
import secrets
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import connections

from apps.access.plan import PRINCIPALS, Principal
from apps.messaging.contracts import EVENTS_EXCHANGE
from apps.messaging.databases import database_create_missing
from apps.messaging.topology import topology_definitions

DEFAULT_PREFIX = "sagas-"


class MissingPassword(Exception):
    """A password is neither in the environment nor in the credentials file, and none may be generated."""


@dataclasses.dataclass
class ProvisionResult:
    database_users: list[str] = dataclasses.field(default_factory=list)
    broker_users: list[str] = dataclasses.field(default_factory=list)
    pending_grants: list[str] = dataclasses.field(default_factory=list)


def access_user(*, prefix: str, principal: str) -> str:
    """The database and broker user name of ``principal`` (e.g. ``sagas-web``)."""
    return f"{prefix}{principal}"


def access_password_variables(principal: Principal) -> dict[str, str]:
    """The environment variables holding ``principal``'s passwords, by server: {"database"|"broker": name}."""
    variables = {}
    if principal.databases:
        variables["database"] = f"DB_PASSWORD_{principal.env_suffix}"
    if principal.broker is not None:
        variables["broker"] = f"BROKER_PASSWORD_{principal.env_suffix}"
    return variables


def access_provision(
    *,
    prefix: str,
    vhost: str,
    database_user_host: str,
    credentials_file: Path | None,
    rabbitmqctl: list[str],
    definitions_file: Path | None = None,
    environ: dict[str, str] | None = None,
) -> ProvisionResult:
    """Create or update every principal's database users, grants and broker users.

    Passwords come from ``environ`` (the process environment by default); with a
    ``credentials_file`` (development, the test stack) missing ones are read
    from it or generated and written to it, mode 0600. Nothing is ever printed.
    The broker's definitions (users, permissions, topic permissions and the
    saga topology) are applied with ``rabbitmqctl import_definitions``, or only
    written to ``definitions_file`` (mode 0644: salted hashes, no password) for
    the broker to load at boot or the caller to import.

    Raises MissingPassword, or the server's error for a refused statement or import.
    """
    passwords = _passwords(environ=os.environ if environ is None else environ, credentials_file=credentials_file)
    result = ProvisionResult()
    for alias in settings.DATABASES:
        _provision_database(alias, prefix=prefix, host=database_user_host, passwords=passwords, result=result)
    definitions = _broker_definitions(prefix=prefix, vhost=vhost, passwords=passwords)
    result.broker_users = [user["name"] for user in definitions["users"]]
    if definitions_file is not None:
        # Readable by the broker's own user, which loads it at boot: it holds salted hashes, no password.
        _write(definitions_file, _json(definitions), mode=0o644)
    else:
        _import_definitions(definitions, rabbitmqctl=rabbitmqctl)
    return result


def _passwords(*, environ: dict[str, str], credentials_file: Path | None) -> dict[str, str]:
    stored = _read_env_file(credentials_file) if credentials_file is not None and credentials_file.exists() else {}
    passwords, generated = {}, False
    for principal in PRINCIPALS.values():
        for variable in access_password_variables(principal).values():
            value = environ.get(variable) or stored.get(variable)
            if not value:
                if credentials_file is None:
                    raise MissingPassword(f"{variable} is not set; only a development credentials file gets one made")
                # URL-safe: it goes into the process's database and broker URLs as it is.
                value, generated = secrets.token_urlsafe(24), True
            passwords[variable] = value
    if generated:
        _write(credentials_file, "".join(f"{name}={value}\n" for name, value in {**stored, **passwords}.items()))
    return passwords


def _provision_database(alias: str, *, prefix: str, host: str, passwords: dict[str, str], result: ProvisionResult):
    connection = connections[alias]
    if connection.vendor != "mysql":
        return
    database_create_missing(alias=alias)
    schema = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        for principal in PRINCIPALS.values():
            grants = principal.databases.get(alias, ())
            if not grants:
                continue
            user = access_user(prefix=prefix, principal=principal.name)
            password = passwords[access_password_variables(principal)["database"]]
            cursor.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", [user, host, password])
            # An existing user gets the password of this run: how a password is rotated.
            cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s", [user, host, password])
            for grant in grants:
                if grant.table != "*" and not _table_exists(cursor, schema, grant.table):
                    result.pending_grants.append(f"{user}: {schema}.{grant.table}")
                    continue
                target = f"{_quoted(schema)}.{'*' if grant.table == '*' else _quoted(grant.table)}"
                cursor.execute(f"GRANT {', '.join(grant.privileges)} ON {target} TO %s@%s", [user, host])
            if user not in result.database_users:
                result.database_users.append(user)


def _table_exists(cursor, schema: str, table: str) -> bool:
    cursor.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s", [schema, table]
    )
    return cursor.fetchone() is not None


def _quoted(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def _broker_definitions(*, prefix: str, vhost: str, passwords: dict[str, str]) -> dict:
    users, permissions, topic_permissions = [], [], []
    for principal in PRINCIPALS.values():
        rights = principal.broker
        if rights is None:
            continue
        user = access_user(prefix=prefix, principal=principal.name)
        password = passwords[access_password_variables(principal)["broker"]]
        # No tags: not an administrator, nor a management-UI user.
        users.append({"name": user, **_password_hash(password), "tags": []})
        configure, write, read = rights.permissions
        permissions.append({"user": user, "vhost": vhost, "configure": configure, "write": write, "read": read})
        if rights.event_keys:
            topic_permissions.append(
                {"user": user, "vhost": vhost, "exchange": EVENTS_EXCHANGE, "write": rights.topic_write, "read": "^$"}
            )
    return {
        "users": users,
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        **topology_definitions(vhost=vhost),
    }


def _password_hash(password: str) -> dict:
    """RabbitMQ's salted SHA-256 (rabbit_password_hashing_sha256): base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode()).digest()
    return {
        "password_hash": base64.b64encode(salt + digest).decode(),
        "hashing_algorithm": "rabbit_password_hashing_sha256",
    }


def _import_definitions(definitions: dict, *, rabbitmqctl: list[str]) -> None:
    # On standard input: no file with the password hashes, and none the broker's own user must be able to read.
    command = [*rabbitmqctl, "import_definitions"]
    subprocess.run(command, input=_json(definitions).encode(), check=True, capture_output=True, timeout=120)  # noqa: S603 -- the operator's own rabbitmqctl


def _json(document: dict) -> str:
    return json.dumps(document, indent=2)


def _write(path: Path, text: str, *, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(descriptor, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _read_env_file(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
