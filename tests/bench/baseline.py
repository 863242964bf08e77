"""The baseline for the intake benchmark: the least work any Django design can do per order.

A bare DRF view, no middleware, that does what POST /orders must do for a
customer and nothing else: it authenticates the bearer token as knox stores it
(its SHA-512 digest, the primary key of ``knox_authtoken`` on the default
database: one indexed query, joined to the user to refuse an inactive one),
validates the body a customer sends (``{"lines": [{"product_id", "quantity"}]}``)
and writes, with raw SQL in one transaction on the orders database, the rows
today's placement writes: the order, its lines (one multi-row INSERT), the
placement saga with its deadline, and the ReserveInventory outbox row, signed
with the orders -> inventory key as the web signs it (apps/messaging/signing.py),
so the inventory consumer acts on the baseline's sagas as on ours. It answers
201 with ``{order_id, saga_id, status}``.

Left out on purpose, being the difference it measures: our middleware, knox's
extra queries (the user row, the user's other tokens), the permission checks
(place_on_behalf), the customer's limits (two reads), request logging, query
metrics, the connection ping before a request's first query, and the publish
after the commit (the relay's sweep publishes the baseline's rows).

Served by gunicorn with the same worker count: ``gunicorn tests.bench.baseline:application``,
with the stack's ``DATABASE_URL`` and ``ORDERS_DATABASE_URL``.
"""

import dataclasses
import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from hashlib import sha512

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.bench.baseline"

# The web's own database connections, limits and signing keys, read from the same environment.
from config.settings import base as web

SECRET_KEY = "baseline-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.bench.baseline"
MIDDLEWARE: list[str] = []
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
# Django's own MySQL backend, without the web's query metrics and per-request connection ping.
DATABASES = {
    alias: {**web.DATABASES[alias], "ENGINE": "django.db.backends.mysql", "CONN_HEALTH_CHECKS": False}
    for alias in ("default", "orders")
}
ORDER_MAX_QUANTITY = web.ORDER_MAX_QUANTITY
ORDER_MAX_LINES = web.ORDER_MAX_LINES
MESSAGE_SIGNING_KEYS = web.MESSAGE_SIGNING_KEYS
# The placement saga's deadline for its first step (apps/orders/sagas/placement.py), or the environment's.
RESERVE_DEADLINE = timedelta(seconds=web.SAGA_STEP_DEADLINES.get("RESERVING_INVENTORY", 30.0))
USE_TZ = True
REST_FRAMEWORK = {
    # Set on the view: this module is still being imported when DRF reads its defaults.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

from django.db import connections, transaction  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import exceptions, serializers  # noqa: E402
from rest_framework.authentication import BaseAuthentication  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from apps.messaging.contracts import ReserveInventory  # noqa: E402
from apps.messaging.signing import message_sign  # noqa: E402

# A knox token as REST_KNOX issues them: no prefix, 64 hex characters.
BEARER = re.compile(r"[Bb]earer ([0-9a-f]{64})")
TOKEN_USER_SQL = (
    "SELECT t.user_id FROM knox_authtoken t JOIN auth_user u ON u.id = t.user_id"
    " WHERE t.digest = %s AND u.is_active AND (t.expiry IS NULL OR t.expiry > %s)"
)


@dataclasses.dataclass(frozen=True)
class Customer:
    pk: int
    is_authenticated = True


class TokenDigestAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        match = BEARER.fullmatch(header)
        if match is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        with connections["default"].cursor() as cursor:
            cursor.execute(TOKEN_USER_SQL, [sha512(match[1].encode()).hexdigest(), _now()])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return Customer(pk=row[0]), None

    def authenticate_header(self, request):
        return "Bearer"


class Line(serializers.Serializer):
    product_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity = serializers.IntegerField(min_value=1, max_value=ORDER_MAX_QUANTITY)


class PlaceOrder(serializers.Serializer):
    lines = Line(many=True, min_length=1, max_length=ORDER_MAX_LINES)

    def validate_lines(self, lines):
        if len({line["product_id"] for line in lines}) != len(lines):
            raise serializers.ValidationError("Each product may appear in one line only.")
        return sorted((line["product_id"], line["quantity"]) for line in lines)


class BaselineOrdersApi(APIView):
    authentication_classes = [TokenDigestAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request):
        serializer = PlaceOrder(data=request.data)
        serializer.is_valid(raise_exception=True)
        lines = serializer.validated_data["lines"]
        saga_id, message_id, trace_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4().hex
        now = _now()
        with transaction.atomic(using="orders", durable=True), connections["orders"].cursor() as cursor:
            cursor.execute(
                "INSERT INTO orders (user_id, total_amount, currency, expected_total, price_overridden, status,"
                " failure_reason, cancel_reason, created_at, updated_at)"
                " VALUES (%s, NULL, '', NULL, 0, 'PENDING', '', '', %s, %s)",
                [request.user.pk, now, now],
            )
            order_id = cursor.lastrowid
            # mysqlclient sends an executemany of one INSERT as a single multi-row INSERT, as ours does.
            cursor.executemany(
                "INSERT INTO order_lines (order_id, product_id, quantity) VALUES (%s, %s, %s)",
                [(order_id, product_id, quantity) for product_id, quantity in lines],
            )
            cursor.execute(
                "INSERT INTO saga_states (saga_id, saga_type, order_id, active_order_id, cancelling, step_attempts,"
                " status, current_step, created_at, updated_at, deadline_at, trace_id)"
                " VALUES (%s, 'placement', %s, %s, 0, 0, 'IN_PROGRESS', 'RESERVING_INVENTORY', %s, %s, %s, %s)",
                [str(saga_id), order_id, order_id, now, now, now + RESERVE_DEADLINE, trace_id],
            )
            payload = {
                "saga_id": str(saga_id),
                "order_id": order_id,
                "lines": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in lines],
            }
            if len(lines) == 1:
                payload["product_id"], payload["quantity"] = lines[0]
            signature = message_sign(contract=ReserveInventory, message_id=message_id, body=payload)
            cursor.execute(
                "INSERT INTO messaging_outbox (message_id, exchange, routing_key, message_type, payload, trace_id,"
                " saga_id, signature, created_at, publish_attempts, last_error) VALUES (%s, 'saga.commands',"
                " 'inventory.reserve', 'ReserveInventory', %s, %s, %s, %s, %s, 0, '')",
                [str(message_id), json.dumps(payload), trace_id, str(saga_id), signature, now],
            )
        return Response({"order_id": order_id, "saga_id": str(saga_id), "status": "PENDING"}, status=201)


def _now() -> datetime:
    """Now as Django stores it on MariaDB with USE_TZ: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


urlpatterns = [path("orders", BaselineOrdersApi.as_view())]
