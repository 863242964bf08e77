import structlog
from django.conf import settings
from django.db import connections
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import error_schema_response, not_found_view

log = structlog.get_logger("common.ready")


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
    """Readiness: every database answers a query. The answer says only ready or not."""

    # Anyone may ask: which database failed, and how, goes to the log (ready.database_unavailable) only.

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="ready",
        responses={
            200: inline_serializer("Ready", {"status": serializers.ChoiceField(choices=["ready"])}),
            503: error_schema_response("NOT_READY: a database does not answer."),
        },
    )
    def get(self, request):
        unavailable = [alias for alias in connections if not _database_answers(alias)]
        if not unavailable:
            return Response({"status": "ready"})
        return Response({"error": "Not ready.", "code": "NOT_READY"}, status=503)


def _database_answers(alias: str) -> bool:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 -- any failure means not ready
        log.warning("ready.database_unavailable", database=alias, error=type(exc).__name__, detail=str(exc))
        connections[alias].close()
        return False
    return True


class JsonErrorsMixin:
    """A refusal is the API's JSON ``{error, code}``, though the view renders YAML or HTML when it answers."""

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "exception", False):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaApi(JsonErrorsMixin, SpectacularAPIView):
    """The OpenAPI document; who may read it: ``SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]`` (ApiDocsReadable)."""


class DocsApi(JsonErrorsMixin, SpectacularSwaggerView):
    """Swagger UI over the OpenAPI document, for the same readers."""


def metrics_view(request):
    """Prometheus's scrape on the web's public port, while ``METRICS_PUBLIC``; otherwise there is none (404).

    With it off (production) the web's metrics are on METRICS_PORT, served by the gunicorn master.
    """
    if not settings.METRICS_PUBLIC:
        return not_found_view(request)
    return ExportToDjangoView(request)
