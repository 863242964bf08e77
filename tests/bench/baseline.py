"""The baseline for the intake benchmark: the least work any Django design can do per order.

A bare DRF view, no middleware, no authentication, that validates the same body
as POST /orders (the same input serializer) and writes the same three rows
(order, saga state, outbox) in one transaction with raw SQL. Served by gunicorn
with the same worker count: ``gunicorn tests.bench.baseline:application``.
"""

import json
import os
import uuid
from decimal import Decimal

import environ

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.bench.baseline"

env = environ.Env()
SECRET_KEY = "baseline-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.bench.baseline"
MIDDLEWARE: list[str] = []
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES = {
    "default": {
        **env.db_url_config(env.str("ORDERS_DATABASE_URL")),
        "CONN_MAX_AGE": env.int("CONN_MAX_AGE", default=60),
        "OPTIONS": {"charset": "utf8mb4", "isolation_level": "read committed"},
    }
}
ORDER_MAX_QUANTITY = 10_000
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

from django.db import connection, transaction  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class PlaceOrder(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    product_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity = serializers.IntegerField(min_value=1, max_value=ORDER_MAX_QUANTITY)
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))


class BaselineOrdersApi(APIView):
    def post(self, request):
        serializer = PlaceOrder(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data
        saga_id, message_id = uuid.uuid4(), uuid.uuid4()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO orders (user_id, product_id, quantity, total_amount, status, failure_reason,"
                " created_at, updated_at) VALUES (%s, %s, %s, %s, 'PENDING', '', NOW(6), NOW(6))",
                [body["user_id"], body["product_id"], body["quantity"], body["total_amount"]],
            )
            order_id = cursor.lastrowid
            cursor.execute(
                "INSERT INTO saga_states (saga_id, order_id, status, current_step, trace_id, created_at,"
                " updated_at) VALUES (%s, %s, 'IN_PROGRESS', 'RESERVING_INVENTORY', '', NOW(6), NOW(6))",
                [saga_id.hex, order_id],
            )
            payload = {
                "saga_id": str(saga_id),
                "order_id": order_id,
                "product_id": body["product_id"],
                "quantity": body["quantity"],
            }
            cursor.execute(
                "INSERT INTO messaging_outbox (message_id, exchange, routing_key, message_type, payload, trace_id,"
                " saga_id, created_at, publish_attempts, last_error) VALUES (%s, 'saga.commands',"
                " 'inventory.reserve', 'ReserveInventory', %s, '', %s, NOW(6), 0, '')",
                [message_id.hex, json.dumps(payload), saga_id.hex],
            )
        return Response({"order_id": order_id, "saga_id": str(saga_id), "status": "PENDING"}, status=201)


urlpatterns = [path("orders", BaselineOrdersApi.as_view())]
