"""Who may do what: every process's database grants, broker rights and secrets, as data.

``provision_access`` creates exactly this; the test stack and the deploy files
are checked against it (tests/stack.py, tests/test_deploy.py). A process is
granted what its code touches and nothing more:

- the web serves the API and the admin: auth and sessions (default), orders,
  the catalog (inventory), and payments read-only;
- the relay publishes every outbox and runs the ``orders.*`` and
  ``messaging.*`` tasks (saga recovery and deadlines, idempotency-key and
  message purges): all of orders, and only the outbox and inbox elsewhere;
- beat reads, for its gauges, the outboxes and the orders' saga states;
- each consumer writes its own database only;
- flower touches no database; the migrate user alone holds DDL.

Broker rights are RabbitMQ regexes over exchange and queue names, always
anchored. With the topology declared by provisioning, no process configures a
saga exchange or queue; Celery processes configure only Celery's own names
(the ``relay`` task queue, the remote-control pidbox, Flower's event queues,
the delayed delivery a relay worker sets up on quorum queues).
"""

import dataclasses
import re

from apps.messaging.contracts import COMMANDS_EXCHANGE, CONTRACTS, EVENTS_EXCHANGE, RETRY_EXCHANGE

DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
READ = ("SELECT",)
# Schema changes and the data migrations that come with them; no GRANT OPTION.
DDL = ("ALL PRIVILEGES",)
OUTBOX_TABLE = "messaging_outbox"
INBOX_TABLE = "messaging_inbox"
SAGA_STATES_TABLE = "saga_states"

# Publishing to the default exchange (the consumers' explicit dead-lettering, a redrive without a
# recorded route) is a write on this name.
DEFAULT_EXCHANGE = "amq.default"
# Celery's names: the relay's task queue (and its direct exchange of the same name), the
# remote-control exchanges and queues (a worker's own, each inspect's reply queue) and the events.
CELERY_TASKS = "relay"
PIDBOX = r"celery\.pidbox"
PIDBOX_REPLY = r"reply\.celery\.pidbox"
WORKER_PIDBOX_QUEUE = r".+@.+\.celery\.pidbox"
REPLY_QUEUE = r".+\.reply\.celery\.pidbox"
EVENTS = "celeryev"
EVENTS_QUEUE = r"celeryev\..+"
# A worker on quorum queues sets up Celery's native delayed delivery (countdown and eta tasks) at start.
DELAYED_DELIVERY = r"celery_delayed_(\d+|delivery)"

SIGNING_ORDERS_INVENTORY = "SIGNING_KEYS_ORDERS_INVENTORY"
SIGNING_ORDERS_PAYMENTS = "SIGNING_KEYS_ORDERS_PAYMENTS"
SIGNING_INVENTORY_ORDERS = "SIGNING_KEYS_INVENTORY_ORDERS"
SIGNING_PAYMENTS_ORDERS = "SIGNING_KEYS_PAYMENTS_ORDERS"


@dataclasses.dataclass(frozen=True)
class TableGrant:
    privileges: tuple[str, ...]
    table: str = "*"


@dataclasses.dataclass(frozen=True)
class BrokerRights:
    """Regex alternatives (already escaped) for RabbitMQ's configure, write and read permissions.

    ``event_keys``: the routing keys this user may publish to the topic exchange
    saga.events (its topic permission), when it may write there at all.
    """

    configure: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    event_keys: tuple[str, ...] = ()

    @property
    def permissions(self) -> tuple[str, str, str]:
        return anchored(self.configure), anchored(self.write), anchored(self.read)

    @property
    def topic_write(self) -> str:
        return anchored(tuple(re.escape(key) for key in self.event_keys))


@dataclasses.dataclass(frozen=True)
class Principal:
    """One process (or the migrate / ops role): its database grants by alias, broker rights, secrets."""

    name: str
    databases: dict[str, tuple[TableGrant, ...]] = dataclasses.field(default_factory=dict)
    broker: BrokerRights | None = None
    signing_keys: tuple[str, ...] = ()
    secret_key: bool = False

    @property
    def env_suffix(self) -> str:
        """``inventory-consumer`` -> ``INVENTORY_CONSUMER``, as in DB_PASSWORD_INVENTORY_CONSUMER."""
        return self.name.upper().replace("-", "_")


def anchored(alternatives: tuple[str, ...]) -> str:
    """One RabbitMQ regex matching exactly these names (``^$``, nothing, when there are none)."""
    return f"^({'|'.join(alternatives)})$" if alternatives else "^$"


def event_keys(prefix: str) -> tuple[str, ...]:
    """The routing keys of the events on saga.events that start with ``prefix``."""
    return tuple(
        sorted(
            key
            for key, contract in CONTRACTS.items()
            if contract.exchange == EVENTS_EXCHANGE and key.startswith(prefix)
        )
    )


def _saga(name: str) -> str:
    return re.escape(name)


# Sending a Celery task (beat's schedule, the relay nudges every committing process sends): the
# producer declares the task queue and its binding before its first publish.
CELERY_SENDER = BrokerRights(configure=(CELERY_TASKS,), write=(CELERY_TASKS,), read=(CELERY_TASKS,))


def _with_celery_sender(rights: BrokerRights) -> BrokerRights:
    return BrokerRights(
        configure=(*CELERY_SENDER.configure, *rights.configure),
        write=(*CELERY_SENDER.write, *rights.write),
        read=(*CELERY_SENDER.read, *rights.read),
        event_keys=rights.event_keys,
    )


def _consumer(name: str, *, queue: str, alias: str, publishes: tuple[str, ...], keys=(), signing=()) -> Principal:
    """A consumer: reads its work queue, writes its replies, its retries (saga.retry) and its DLQ (default exchange)."""
    return Principal(
        name=name,
        databases={alias: (TableGrant(DML),)},
        broker=_with_celery_sender(
            BrokerRights(
                write=(
                    *(_saga(exchange) for exchange in publishes),
                    _saga(RETRY_EXCHANGE),
                    re.escape(DEFAULT_EXCHANGE),
                ),
                read=(re.escape(queue),),
                event_keys=keys,
            )
        ),
        signing_keys=signing,
    )


ALL_EVENT_KEYS = event_keys("")
# The keys the orders' commands are signed with: whoever sends a command (web, relay, orders-consumer).
ORDERS_SIGNING = (SIGNING_ORDERS_INVENTORY, SIGNING_ORDERS_PAYMENTS)

PRINCIPALS: dict[str, Principal] = {
    principal.name: principal
    for principal in (
        Principal(
            name="web",
            databases={
                "default": (TableGrant(DML),),
                "orders": (TableGrant(DML),),
                "inventory": (TableGrant(DML),),
                "payments": (TableGrant(READ),),
            },
            # The orders' first commands when WEB_DISPATCH_AFTER_RESPONSE is on; the relay nudges.
            broker=_with_celery_sender(BrokerRights(write=(_saga(COMMANDS_EXCHANGE),))),
            signing_keys=ORDERS_SIGNING,
            secret_key=True,
        ),
        Principal(
            name="relay",
            databases={
                "orders": (TableGrant(DML),),
                "inventory": (
                    TableGrant(("SELECT", "UPDATE", "DELETE"), OUTBOX_TABLE),
                    TableGrant(("SELECT", "DELETE"), INBOX_TABLE),
                ),
                "payments": (
                    TableGrant(("SELECT", "UPDATE", "DELETE"), OUTBOX_TABLE),
                    TableGrant(("SELECT", "DELETE"), INBOX_TABLE),
                ),
            },
            broker=BrokerRights(
                # EVENTS: the task events a worker sends once Flower (or `celery events`) turns them on.
                configure=(
                    CELERY_TASKS,
                    EVENTS,
                    PIDBOX,
                    PIDBOX_REPLY,
                    WORKER_PIDBOX_QUEUE,
                    REPLY_QUEUE,
                    DELAYED_DELIVERY,
                ),
                write=(
                    _saga(COMMANDS_EXCHANGE),
                    _saga(EVENTS_EXCHANGE),
                    CELERY_TASKS,
                    EVENTS,
                    PIDBOX,
                    PIDBOX_REPLY,
                    WORKER_PIDBOX_QUEUE,
                    REPLY_QUEUE,
                    DELAYED_DELIVERY,
                ),
                read=(CELERY_TASKS, PIDBOX, PIDBOX_REPLY, WORKER_PIDBOX_QUEUE, REPLY_QUEUE, DELAYED_DELIVERY),
                event_keys=ALL_EVENT_KEYS,
            ),
            signing_keys=ORDERS_SIGNING,
        ),
        Principal(
            name="beat",
            databases={
                "orders": (TableGrant(READ, OUTBOX_TABLE), TableGrant(READ, SAGA_STATES_TABLE)),
                "inventory": (TableGrant(READ, OUTBOX_TABLE),),
                "payments": (TableGrant(READ, OUTBOX_TABLE),),
            },
            # Its DLQ-depth gauge is a passive declare, which needs no right.
            broker=CELERY_SENDER,
        ),
        Principal(
            name="flower",
            broker=BrokerRights(
                configure=(EVENTS, EVENTS_QUEUE, PIDBOX, PIDBOX_REPLY, REPLY_QUEUE),
                write=(EVENTS_QUEUE, PIDBOX, REPLY_QUEUE),
                read=(EVENTS, EVENTS_QUEUE, PIDBOX_REPLY, REPLY_QUEUE),
            ),
        ),
        _consumer(
            "orders-consumer",
            queue="order.events",
            alias="orders",
            publishes=(COMMANDS_EXCHANGE,),
            signing=(
                SIGNING_ORDERS_INVENTORY,
                SIGNING_ORDERS_PAYMENTS,
                SIGNING_INVENTORY_ORDERS,
                SIGNING_PAYMENTS_ORDERS,
            ),
        ),
        _consumer(
            "inventory-consumer",
            queue="inventory.commands",
            alias="inventory",
            publishes=(EVENTS_EXCHANGE,),
            keys=event_keys("inventory."),
            signing=(SIGNING_ORDERS_INVENTORY, SIGNING_INVENTORY_ORDERS),
        ),
        _consumer(
            "payments-consumer",
            queue="payment.commands",
            alias="payments",
            publishes=(EVENTS_EXCHANGE,),
            keys=event_keys("payment."),
            signing=(SIGNING_ORDERS_PAYMENTS, SIGNING_PAYMENTS_ORDERS),
        ),
        # Migrations, run before each release: the only user that may change a schema.
        Principal(
            name="migrate",
            databases={alias: (TableGrant(DDL),) for alias in ("default", "orders", "inventory", "payments")},
        ),
        # The operator's `manage.py dlq`: read the DLQs, send their messages back where they came from.
        Principal(
            name="ops",
            broker=BrokerRights(
                write=(_saga(COMMANDS_EXCHANGE), _saga(EVENTS_EXCHANGE), re.escape(DEFAULT_EXCHANGE)),
                read=(r".+\.dlq",),
                event_keys=ALL_EVENT_KEYS,
            ),
        ),
    )
}

# The processes of the Procfile, each with its own users.
PROCESSES = ("web", "relay", "beat", "flower", "orders-consumer", "inventory-consumer", "payments-consumer")
