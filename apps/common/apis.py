from django.db import connections
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class HealthApi(APIView):
    """Liveness: the process answers. Checks nothing else, so a slow database never restarts it."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health",
        responses={200: inline_serializer("Health", {"status": serializers.CharField()})},
    )
    def get(self, request):
        return Response({"status": "ok"})


class ReadyApi(APIView):
    """Readiness: every database answers a query."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="ready",
        responses={
            200: inline_serializer("Ready", {"status": serializers.CharField(), "databases": serializers.DictField()}),
            503: inline_serializer(
                "NotReady",
                {
                    "error": serializers.CharField(),
                    "code": serializers.CharField(),
                    "databases": serializers.DictField(),
                },
            ),
        },
    )
    def get(self, request):
        databases = {alias: _database_state(alias) for alias in connections}
        if all(state == "ok" for state in databases.values()):
            return Response({"status": "ok", "databases": databases})
        return Response(
            {"error": "A database is unreachable.", "code": "NOT_READY", "databases": databases}, status=503
        )


def _database_state(alias: str) -> str:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 -- any failure means not ready
        connections[alias].close()
        return f"error: {type(exc).__name__}"
