"""Settings shared by every environment; everything variable comes from the environment.

With no database or broker URL set, the system runs on the embedded default:
SQLite files under ``var/`` and kombu's in-process ``memory://`` broker.
"""

import hashlib
import hmac
import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

SERVICE_NAME = env.str("SERVICE_NAME", default="web")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "apps.common",
    "apps.accounts",
    "apps.messaging",
    "apps.orders",
    "apps.inventory",
    "apps.payments",
    "apps.audit",
    "apps.access",
]

MIDDLEWARE = [
    "apps.common.middleware.RequestSizeLimitMiddleware",
    "apps.common.middleware.TraceIdMiddleware",
    "apps.messaging.middleware.OutboxDispatchMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "apps.common.middleware.BrowserMiddleware",
]
# Run by BrowserMiddleware, in this order, for requests with a cookie, asking for HTML, or
# under BROWSER_PATHS; an API call without any of these skips them (apps/common/middleware.py).
BROWSER_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
BROWSER_PATHS = ["/admin/", "/api-auth/"]
# These checks look for the browser middleware in MIDDLEWARE; common.E001 checks BROWSER_MIDDLEWARE instead.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "security.W002", "security.W003"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------
# One alias per domain app plus ``default`` for auth, admin and sessions.
DOMAIN_DATABASES = ("orders", "inventory", "payments")
DATABASE_URL_VARIABLES = {
    "default": "DATABASE_URL",
    "orders": "ORDERS_DATABASE_URL",
    "inventory": "INVENTORY_DATABASE_URL",
    "payments": "PAYMENTS_DATABASE_URL",
}
CONN_MAX_AGE = env.int("CONN_MAX_AGE", default=60)


PROMETHEUS_ENGINES = {
    "django.db.backends.mysql": "config.db_backends.mysql",
    "django.db.backends.sqlite3": "config.db_backends.sqlite3",
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
}


def database_config(alias: str) -> dict:
    """Build one alias from its URL, falling back to a SQLite file under var/."""
    url = env.str(DATABASE_URL_VARIABLES[alias], default="")
    if not url:
        return {
            "ENGINE": "config.db_backends.sqlite3",
            "NAME": str(VAR_DIR / f"{alias}.sqlite3"),
            # WAL lets readers run beside the one writer; IMMEDIATE takes the write
            # lock at BEGIN so two writers queue instead of failing to upgrade.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    config = env.db_url_config(url)
    config["CONN_MAX_AGE"] = CONN_MAX_AGE
    # A ping before each request's first query: one round trip, so that a connection the server
    # dropped (restart, KILL, wait_timeout) is replaced instead of failing a request with a 500.
    config["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    # django-prometheus's wrappers count queries and errors per alias (django_db_* metrics).
    # config.db_backends: the same wrappers, built once per connection instead of per cursor.
    config["ENGINE"] = PROMETHEUS_ENGINES.get(config["ENGINE"], config["ENGINE"])
    if config["ENGINE"] == "config.db_backends.mysql":
        # READ COMMITTED: no gap/next-key locks on the outbox claim index, and no
        # stale snapshot for the conditional stock UPDATE.
        config.setdefault("OPTIONS", {}).update({"charset": "utf8mb4", "isolation_level": "read committed"})
    return config


DATABASES = {alias: database_config(alias) for alias in DATABASE_URL_VARIABLES}
DATABASE_ROUTERS = ["config.db_router.AppDatabaseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker and Celery -----------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
# The saga messages go to this broker; Celery's own nudges go to CELERY_BROKER_URL.
MESSAGING_BROKER_URL = env.str("MESSAGING_BROKER_URL", default=CELERY_BROKER_URL)
EMBEDDED_MODE = MESSAGING_BROKER_URL.startswith("memory://")
# The DLQ tools (manage.py dlq, the admin's dead-letter page) connect as the operator's broker user
# when this names it: a process's own user may neither read a DLQ nor publish where a redrive sends.
DLQ_BROKER_URL = env.str("DLQ_BROKER_URL", default="")

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes every database connection after each task unless told to reuse them: a relay
# nudge then paid for a new MariaDB connection (a tenth of the relay's CPU). Connections are
# kept for this many tasks; a task_prerun hook drops broken or aged ones as a request would.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The remote-control queues (the relay's pidbox, Flower's and `celery inspect`'s replies) are not
# exclusive. An exclusive queue belongs to the connection that declared it, and when a cluster node
# restarts, its record can outlive that connection for a moment: the relay's reconnect to the next
# node then met RESOURCE_LOCKED, which Celery takes as unrecoverable, and the relay stopped (a rolling
# restart in `make test-cluster`). Still transient and auto-deleted, with the same expiry.
CELERY_CONTROL_QUEUE_EXCLUSIVE = False
# Named exchange and key, or Celery sends through the default exchange: a user allowed to write
# there may put a message on any queue by name, the saga work queues included (apps/access/plan.py).
RELAY_TASK_ROUTE = {"queue": "relay", "exchange": "relay", "routing_key": "relay"}
CELERY_TASK_ROUTES = {"messaging.*": RELAY_TASK_ROUTE, "orders.*": RELAY_TASK_ROUTE}
CELERY_TASK_DEFAULT_QUEUE = "relay"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
RELAY_SWEEP_INTERVAL = env.float("RELAY_SWEEP_INTERVAL", default=2.0)
SAGA_RECOVERY_INTERVAL = env.float("SAGA_RECOVERY_INTERVAL", default=30.0)
SAGA_DEADLINE_CHECK_INTERVAL = env.float("SAGA_DEADLINE_CHECK_INTERVAL", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "relay-sweep": {
        "task": "messaging.relay_sweep",
        "schedule": RELAY_SWEEP_INTERVAL,
        "options": {"expires": 10},
    },
    "recover-sagas": {
        "task": "orders.recover_sagas",
        "schedule": SAGA_RECOVERY_INTERVAL,
        "options": {"expires": 60},
    },
    "purge-idempotency-keys": {
        "task": "orders.purge_idempotency_keys",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Hourly keeps each run small; the age deleted comes from MESSAGE_RETENTION.
    "purge-messages": {
        "task": "messaging.purge_messages",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "expire-saga-deadlines": {
        "task": "orders.expire_saga_deadlines",
        "schedule": SAGA_DEADLINE_CHECK_INTERVAL,
        "options": {"expires": 30},
    },
}

# --- Messaging ---------------------------------------------------------------
RELAY_BATCH_SIZE = env.int("RELAY_BATCH_SIZE", default=500)
RELAY_CONFIRM_TIMEOUT = env.float("RELAY_CONFIRM_TIMEOUT", default=10.0)
# Threads (each with its connection and channel) draining a backlog together, so that one
# claims and publishes while another waits for its confirms.
RELAY_DRAINERS = env.int("RELAY_DRAINERS", default=2)
# Commits within this window share one relay nudge (the first is nudged at once).
RELAY_KICK_INTERVAL_MS = env.float("RELAY_KICK_INTERVAL_MS", default=20.0)
# Each relay child follows these outboxes from a thread, probing every RELAY_FOLLOW_INTERVAL_MS
# (0: never): a commit on them sends no nudge, and the web leaves an order's first command there.
RELAY_FOLLOW = env.list("RELAY_FOLLOW", default=["orders"])
RELAY_FOLLOW_INTERVAL_MS = env.float("RELAY_FOLLOW_INTERVAL_MS", default=20.0)
# The web publishes an order's first command itself after the response, instead of leaving it
# to the relay: one hop less, at about a sixth of a request's CPU (docs/benchmarks.md).
WEB_DISPATCH_AFTER_RESPONSE = env.bool("WEB_DISPATCH_AFTER_RESPONSE", default=False)
# Consumers publish their own replies right after their commit; the relay picks up
# whatever they did not confirm and mark once OUTBOX_DISPATCH_GRACE seconds have passed.
OUTBOX_DISPATCH_AFTER_COMMIT = env.bool("OUTBOX_DISPATCH_AFTER_COMMIT", default=True)
OUTBOX_DISPATCH_GRACE = env.float("OUTBOX_DISPATCH_GRACE", default=3.0)
# How often a process marks the rows it published (one UPDATE per database); well inside the grace.
OUTBOX_MARK_INTERVAL = env.float("OUTBOX_MARK_INTERVAL", default=0.25)
RETRY_MAX_ATTEMPTS = env.int("RETRY_MAX_ATTEMPTS", default=5)
RETRY_DELAY_MS = env.int("RETRY_DELAY_MS", default=1000)
CONSUMER_PREFETCH = env.int("CONSUMER_PREFETCH", default=20)
# Messages already delivered are handled up to this many per transaction (one commit).
CONSUMER_BATCH_SIZE = env.int("CONSUMER_BATCH_SIZE", default=20)
# quorum: every work, retry and dead-letter queue is a replicated quorum queue (RabbitMQ clusters).
RABBITMQ_QUEUE_TYPE = env.str("RABBITMQ_QUEUE_TYPE", default="classic")
if RABBITMQ_QUEUE_TYPE not in ("classic", "quorum"):
    raise ImproperlyConfigured(f"RABBITMQ_QUEUE_TYPE must be classic or quorum, not {RABBITMQ_QUEUE_TYPE!r}.")
# Quorum mode: redeliveries (consumer crashes, requeues) before the broker dead-letters a message.
RABBITMQ_DELIVERY_LIMIT = env.int("RABBITMQ_DELIVERY_LIMIT", default=20)
# Quorum mode: the DLQs' limit; each operator's look at a DLQ (dlq show) counts as a delivery.
RABBITMQ_DLQ_DELIVERY_LIMIT = env.int("RABBITMQ_DLQ_DELIVERY_LIMIT", default=1000)
# false: provision_access declared the topology and every process only checks it (a passive declare needs
# no configure right on the broker). The embedded mode's in-process broker is always declared.
RABBITMQ_DECLARE_TOPOLOGY = env.bool("RABBITMQ_DECLARE_TOPOLOGY", default=True)
# Celery's own queue (relay) follows the saga queues: quorum on a cluster, so it survives its node.
CELERY_TASK_DEFAULT_QUEUE_TYPE = RABBITMQ_QUEUE_TYPE
CRASH_POINTS = frozenset(env.list("CRASH_POINTS", default=[]))
# Retention (ages like 7d, 12h, 30m, 3600s): dispatched outbox rows are kept
# MESSAGE_RETENTION, inbox rows the longer of that and INBOX_DEDUP_WINDOW, the
# time within which a redelivered or redriven message is still recognised.
MESSAGE_RETENTION = env.str("MESSAGE_RETENTION", default="7d")
INBOX_DEDUP_WINDOW = env.str("INBOX_DEDUP_WINDOW", default="14d")
MESSAGE_PURGE_BATCH_SIZE = env.int("MESSAGE_PURGE_BATCH_SIZE", default=1000)

# Who may send what: each route (producing app -> consuming app) has its own HMAC keys,
# ``SIGNING_KEYS_<PRODUCER>_<CONSUMER>`` as ``key_id:secret[,key_id:secret]``. The first key
# signs, every listed one verifies (rotation). A process holds only the routes it signs or
# verifies. Outside production, an unset route's key is derived from SECRET_KEY, so every
# process of one checkout agrees; production derives nothing (config/settings/production.py).
SIGNING_ROUTES = (("orders", "inventory"), ("orders", "payments"), ("inventory", "orders"), ("payments", "orders"))


def signing_keys(*, derive_from: str | None) -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """The keys of every route from the environment; an unset route derives one from ``derive_from`` (or has none)."""
    keys = {}
    for producer, consumer in SIGNING_ROUTES:
        variable = f"SIGNING_KEYS_{producer.upper()}_{consumer.upper()}"
        entries = []
        for item in env.list(variable, default=[]):
            key_id, _, secret = item.partition(":")
            if not key_id or len(secret) < 32:
                raise ImproperlyConfigured(f"{variable}: each key is key_id:secret, the secret at least 32 characters")
            entries.append((key_id, secret))
        if not entries and derive_from is not None:
            route = f"message-signing:{producer}>{consumer}".encode()
            entries.append(("derived", hmac.new(derive_from.encode(), route, hashlib.sha256).hexdigest()))
        if entries:
            keys[(producer, consumer)] = tuple(entries)
    return keys


MESSAGE_SIGNING_KEYS = signing_keys(derive_from=SECRET_KEY)
# Only for an upgrade from a version that did not sign: a message with no signature at all is
# accepted (and counted); a wrong signature is refused whatever this says. ``check --deploy`` warns.
MESSAGING_ACCEPT_UNSIGNED = env.bool("MESSAGING_ACCEPT_UNSIGNED", default=False)

# Which handlers each consumer runs, on which queue and database. Messaging
# resolves the handler tables by dotted path so it never imports a domain app.
MESSAGING_CONSUMERS = {
    "orders": {
        "queue": "order.events",
        "database": "orders",
        "handlers": "apps.orders.handlers.HANDLERS",
        "transient_retries": 3,
    },
    "inventory": {
        "queue": "inventory.commands",
        "database": "inventory",
        "handlers": "apps.inventory.handlers.HANDLERS",
        "transient_retries": env.int("INVENTORY_RESERVE_MAX_RETRIES", default=50),
    },
    "payments": {
        "queue": "payment.commands",
        "database": "payments",
        "handlers": "apps.payments.handlers.HANDLERS",
        "transient_retries": 3,
    },
}

# --- Domain ------------------------------------------------------------------
PAYMENT_FAILURE_RATE = env.float("PAYMENT_FAILURE_RATE", default=0.0)
SAGA_RECOVERY_AGE = env.float("SAGA_RECOVERY_AGE", default=30.0)
# Seconds each step may take before the saga gives up on it (compensatable steps are undone;
# the others are flagged stuck and keep being re-sent). Each step's default is in its saga's
# definition (apps/orders/sagas/); SAGA_STEP_DEADLINE_<STEP> overrides it, e.g.
# SAGA_STEP_DEADLINE_PROCESSING_PAYMENT=3.
SAGA_STEP_DEADLINE_PREFIX = "SAGA_STEP_DEADLINE_"
SAGA_STEP_DEADLINES = {
    name.removeprefix(SAGA_STEP_DEADLINE_PREFIX): env.float(name)
    for name in sorted(os.environ)
    if name.startswith(SAGA_STEP_DEADLINE_PREFIX)
}
# How long after its confirmation a customer may still cancel an order (24h, 30m, 3600s).
ORDER_CANCEL_WINDOW = env.str("ORDER_CANCEL_WINDOW", default="24h")
# The simulated gateway declines this share of refunds (0.0 to 1.0): the saga retries, then asks a person.
PAYMENT_REFUND_FAILURE_RATE = env.float("PAYMENT_REFUND_FAILURE_RATE", default=0.0)
ORDER_MAX_QUANTITY = env.int("ORDER_MAX_QUANTITY", default=10_000)
# Distinct products in one order (the contracts carry at most 50).
ORDER_MAX_LINES = min(env.int("ORDER_MAX_LINES", default=50), 50)
# A customer's limits: orders placed and not yet paid or failed, and units of one product in them.
ORDER_MAX_OPEN_PER_CUSTOMER = env.int("ORDER_MAX_OPEN_PER_CUSTOMER", default=20)
ORDER_MAX_UNITS_IN_FLIGHT = env.int("ORDER_MAX_UNITS_IN_FLIGHT", default=10_000)
# How long an Idempotency-Key is remembered, in seconds (the purge job deletes older ones hourly).
IDEMPOTENCY_KEY_TTL = env.int("IDEMPOTENCY_KEY_TTL", default=24 * 3600)

# --- HTTP API ----------------------------------------------------------------
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES


def throttle_rate(variable: str, default: str) -> str | None:
    """A DRF rate such as ``20/min`` from the environment; ``off`` turns that throttle off."""
    rate = env.str(variable, default=default)
    return None if rate.lower() == "off" else rate


# Every endpoint needs a login but the probes, the public catalog and the token login, which say
# AllowAny themselves (the schema and /metrics: API_DOCS_PUBLIC, METRICS_PUBLIC). Bearer tokens
# (knox) first: an anonymous call is answered 401 with "WWW-Authenticate: Bearer". Sessions
# serve the browsable API and the admin. No BasicAuthentication: it hashes the password (PBKDF2) on every request.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_RATES": {
        # Failed logins per username and per client address (POST /auth/token, the admin and
        # browsable-API logins); past it every attempt is refused, right password or not.
        "login_failures": throttle_rate("THROTTLE_LOGIN_FAILURES", "20/min"),
        # POST /orders per customer and per client address.
        "orders_user": throttle_rate("THROTTLE_ORDERS_USER", "60/min"),
        "orders_ip": throttle_rate("THROTTLE_ORDERS_IP", "120/min"),
    },
    # Proxies in front of the web that append to X-Forwarded-For. 0: the client's address is the
    # connection's, and a client cannot pick its own by sending the header.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "apps.common.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["apps.common.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.common.negotiation.ApiContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "apps.common.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "apps.common.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# API tokens: stored as SHA-512 digests, valid for API_TOKEN_TTL_DAYS from their login, never
# extended by use (a stolen token dies on time); POST /auth/logout deletes one at once.
API_TOKEN_TTL = timedelta(days=env.float("API_TOKEN_TTL_DAYS", default=30))
REST_KNOX = {
    "TOKEN_TTL": API_TOKEN_TTL,
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Bearer",
}

# The throttles' counters. Several web processes must share them: Redis when REDIS_URL (or
# CACHE_URL, a redis:// URL too) is set, as on the server stack; otherwise each process counts
# alone (make run, tests).
CACHE_URL = env.str("REDIS_URL", default="") or env.str("CACHE_URL", default="")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # Each call to a Redis that hangs gives up after this long, and the throttle lets the request through.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": CACHE_KEY_PREFIX}}

# The OpenAPI document (/api/schema/) and its UI (/api/docs/) for anyone; off in production,
# where only staff read them (apps.common.permissions.ApiDocsReadable).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=True)
SPECTACULAR_SETTINGS = {
    "TITLE": "Saga order processing API",
    "DESCRIPTION": "Orders, inventory and payments kept consistent by an orchestrated saga.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["apps.common.permissions.ApiDocsReadable"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Routes accept an optional trailing slash; document them without it, as the API names them.
    "PREPROCESSING_HOOKS": ["apps.common.schema.canonical_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.common.schema.typed_path_ids",
        "apps.orders.apis.order_place_shapes",
    ],
    # Served from this host: the UI works with no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# manage.py ensure_admin (make run, make run-stack) may generate the admin's password and print it
# once, to the developer's terminal. Production never does: the password comes from the environment.
ADMIN_PASSWORD_GENERATED = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve static files straight from the apps in development, without collectstatic.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# Every process serves /metrics on its own port (0 = off): web (the gunicorn master, config/gunicorn.py),
# relay, consumers and beat, one port each per Procfile line. METRICS_PUBLIC: the web also answers
# /metrics on the public port, to anyone (make run's one process; off in production).
METRICS_PORT = env.int("METRICS_PORT", default=0)
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=True)
METRICS_ADDRESS = env.str("METRICS_ADDRESS", default="127.0.0.1")

# Where this process's spans go (apps/common/tracing.py): none (the default: spans get ids, for the logs
# and the messages, and nothing is recorded), console (stdout), file (JSON lines appended to
# OTEL_TRACES_FILE) or otlp (to OTEL_EXPORTER_OTLP_ENDPOINT, which the exporter reads itself).
OTEL_TRACES_EXPORTER = env.str("OTEL_TRACES_EXPORTER", default="none")
if OTEL_TRACES_EXPORTER not in ("none", "console", "file", "otlp"):
    raise ImproperlyConfigured(
        f"OTEL_TRACES_EXPORTER must be none, console, file or otlp, not {OTEL_TRACES_EXPORTER!r}."
    )
OTEL_TRACES_FILE = env.str("OTEL_TRACES_FILE", default=str(VAR_DIR / "traces" / f"{SERVICE_NAME}.jsonl"))
# Empty (as compose passes it when unset) is the same as unset: the process's own name.
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="") or SERVICE_NAME

LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING_CONFIG = None  # config.logging configures stdlib logging and structlog once.
