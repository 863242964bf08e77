import structlog
from django.conf import settings

from apps.common.errors import error_response
from apps.common.trace import trace_bind, trace_clear, trace_id_from

TRACE_HEADER = "X-Request-ID"


class RequestSizeLimitMiddleware:
    """Refuse oversized bodies up front: DRF reads the stream and bypasses Django's own limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "INVALID_REQUEST", "Content-Length is not a number.")
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return error_response(
                413,
                "PAYLOAD_TOO_LARGE",
                f"Request body is larger than {settings.MAX_REQUEST_BODY_BYTES} bytes.",
            )
        return self.get_response(request)


class TraceIdMiddleware:
    """Take the trace id from X-Request-ID (or start one), bind it for logs, echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.log = structlog.get_logger("http")

    def __call__(self, request):
        trace_id = trace_id_from(request.headers.get(TRACE_HEADER))
        trace_clear()
        trace_bind(trace_id=trace_id)
        request.trace_id = trace_id
        try:
            response = self.get_response(request)
        finally:
            trace_clear()
        response[TRACE_HEADER] = trace_id
        return response
