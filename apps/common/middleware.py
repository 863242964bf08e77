import functools
import re
import time

import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.http.request import HttpHeaders
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string
from opentelemetry import trace
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram

from apps.common.errors import error_response
from apps.common.tracing import traceparent_context, traceparent_current

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META_KEY = HttpHeaders.to_wsgi_name(REQUEST_ID_HEADER)
# A caller's request id is echoed and logged only when it looks like an id, not like a payload.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Where the Django instrumentation's middleware, when installed, keeps the request's server span.
_INSTRUMENTED_SPAN_KEY = _DjangoMiddleware._environ_span_key
TRACEPARENT_META_KEY = HttpHeaders.to_wsgi_name("traceparent")
tracer = trace.get_tracer("apps.common")

# The HTTP metrics, under the seed's names; the dashboards read them. django-prometheus's own
# django_http_* middleware counted every request a second time (10-12% of POST /orders' CPU): not used.
HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests by route and status", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
UNROUTED = "unmatched"


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
    """Name the request's trace in its answer and its log lines, and log and count the request.

    The trace is the server span's, continuing the caller's ``traceparent`` if
    it sent one. While spans are recorded, the Django instrumentation's middleware
    (first in MIDDLEWARE) starts it; otherwise this one starts it, unrecorded, with
    the same ids and parent (apps.common.tracing). The answer carries that span's
    ``traceparent`` and an ``X-Request-ID``: the caller's own, echoed (and logged as
    ``request_id``), else the trace id.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.log = structlog.get_logger("http")

    def __call__(self, request):
        if _INSTRUMENTED_SPAN_KEY in request.META:
            return self._traced(request, time.perf_counter())
        span = tracer.start_span(
            request.method,
            context=traceparent_context(request.META.get(TRACEPARENT_META_KEY)),
            kind=SpanKind.SERVER,
        )
        with trace.use_span(span, end_on_exit=True):
            return self._traced(request, time.perf_counter())

    def _traced(self, request, started: float):
        span = trace.get_current_span()
        context = span.get_span_context()
        request.trace_id = f"{context.trace_id:032x}" if context.is_valid else ""
        # META, not request.headers: building the headers mapping parses every header's name.
        request_id = request.META.get(REQUEST_ID_META_KEY)
        if request_id and _REQUEST_ID.match(request_id):
            if span.is_recording():
                span.set_attribute("http.request.header.x-request-id", (request_id,))
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                return self._respond(request, request_id, started)
        return self._respond(request, request.trace_id, started)

    def _respond(self, request, request_id: str, started: float):
        response = self.get_response(request)
        if request_id:
            response[REQUEST_ID_HEADER] = request_id
        traceparent = traceparent_current()
        if traceparent:
            response["traceparent"] = traceparent
        self._observe(request, response.status_code, time.perf_counter() - started)
        return response

    def _observe(self, request, status: int, elapsed: float) -> None:
        match = getattr(request, "resolver_match", None)
        route = route_label(match.route) if match and match.route else UNROUTED
        span = trace.get_current_span()
        if span.is_recording():
            # The instrumentation names the span by Django's route pattern (``POST ^orders/?$``).
            span.update_name(f"{request.method} {route}")
        if route.startswith("/metrics"):
            return
        counted, timed = _http_series(request.method, route, status)
        counted.inc()
        timed.observe(elapsed)
        self.log.info(
            "http.request",
            method=request.method,
            path=request.path,
            route=route,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )


@functools.lru_cache(maxsize=1024)
def _http_series(method: str, route: str, status: int):
    # Label children looked up once per (method, route, status): the routes are few, the requests many.
    return HTTP_REQUESTS.labels(method, route, str(status)), HTTP_DURATION.labels(method, route)


@functools.lru_cache(maxsize=1024)
def route_label(route: str) -> str:
    """``^orders/(?P<order_id>[^/]+)/?$`` or ``orders/<int:pk>`` as ``/orders/{order_id}``: few, readable labels."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return "/" + route.removeprefix("^").removesuffix("$").removesuffix("/?")


class BrowserMiddleware:
    """Run ``BROWSER_MIDDLEWARE`` (sessions, CSRF, login, messages, clickjacking) only where a browser is.

    A request takes them when it carries a cookie, asks for HTML, or goes under
    one of ``BROWSER_PATHS`` (the admin, the login pages): every admin page, form
    and browsable-API page behaves as with those middleware in MIDDLEWARE. An API
    call with none of these has no session to load, no CSRF cookie to check (the
    API's views are CSRF-exempt unless session-authenticated, and a session needs
    a cookie) and no page to frame, so it skips them: about 4% of POST /orders' CPU.
    DRF still authenticates it (a bearer token, or no session: anonymous). Its answer
    still says ``Vary: Cookie``, as the session's did: a cache must not hand it to
    a client that has a session.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.paths = tuple(settings.BROWSER_PATHS)
        self.view_hooks = []
        handler = get_response
        for path in reversed(settings.BROWSER_MIDDLEWARE):
            middleware = import_string(path)(handler)
            if hasattr(middleware, "process_exception") or hasattr(middleware, "process_template_response"):
                raise ImproperlyConfigured(f"BROWSER_MIDDLEWARE cannot hold {path}: only process_view hooks are run")
            if hasattr(middleware, "process_view"):
                self.view_hooks.insert(0, middleware.process_view)
            handler = convert_exception_to_response(middleware)
        self.browser = handler

    def __call__(self, request):
        meta = request.META
        request.browser = bool(
            meta.get("HTTP_COOKIE")
            or "text/html" in meta.get("HTTP_ACCEPT", "")
            or request.path_info.startswith(self.paths)
        )
        if request.browser:
            return self.browser(request)
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        return response

    def process_view(self, request, view, args, kwargs):
        if not getattr(request, "browser", False):
            return None
        for hook in self.view_hooks:
            response = hook(request, view, args, kwargs)
            if response is not None:
                return response
        return None
