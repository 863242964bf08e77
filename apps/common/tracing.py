"""OpenTelemetry in every process: the tracer provider, where its spans go, the instrumentations, traceparents.

One trace follows an order. The Django instrumentation continues an incoming
``traceparent`` (or starts a trace); an outbox row stores the traceparent of the
span that wrote it; the relay publishes each row in a span of its own, whose
traceparent the message carries; a consumer handles the message in a span whose
parent that is, and its replies' rows carry that span's traceparent in turn.
Log lines carry the current span's ids (config.logging).

``OTEL_TRACES_EXPORTER`` says where the spans go: ``otlp``, ``console``, ``file``
(JSON lines appended to ``OTEL_TRACES_FILE``) or ``none``, the default. With
``none`` spans still get ids, for the logs and the messages, but the sampler
records none, and neither Django nor the database driver is instrumented: their
instrumentations cost more than the rest of the tracing put together, for spans
nobody keeps (docs/decisions.md).
"""

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

EXPORTERS = ("none", "console", "file", "otlp")

_PROPAGATOR = TraceContextTextMapPropagator()
_configured = threading.Lock()


class RecordWhileExporting(Sampler):
    """Record spans only while some processor exports them, and never a database call outside any other span.

    Not recording still gives every span its ids. A statement with no parent span
    (the relay's follower probing the outbox, the marker thread) would be a trace
    of its own every few milliseconds: dropped. A remote parent that was not
    sampled is followed, as ParentBased would.
    """

    exporting = False

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        parent = trace.get_current_span(parent_context).get_span_context()
        if not self.exporting:
            record = False
        elif parent.is_valid:
            record = parent.trace_flags.sampled
        else:
            record = kind is not SpanKind.CLIENT
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE if record else Decision.DROP,
            attributes if record else None,
            parent.trace_state if parent.is_valid else None,
        )

    def get_description(self) -> str:
        return "RecordWhileExporting"


class _Processors(SpanProcessor):
    """The provider's one processor, handing spans to those added since; unlike the provider's, it can drop one."""

    def __init__(self):
        self.processors: tuple[SpanProcessor, ...] = ()

    def on_start(self, span, parent_context=None):
        for processor in self.processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span):
        for processor in self.processors:
            processor.on_end(span)

    def shutdown(self):
        for processor in self.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.processors)


class JsonLinesSpanExporter(SpanExporter):
    """Append each span to a file as one JSON line, in one write: several processes may share the file."""

    def __init__(self, path: str):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            os.write(self.fd, (span.to_json(indent=None) + "\n").encode())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        os.close(self.fd)


_SAMPLER = RecordWhileExporting()
_PROCESSORS = _Processors()
_RECORDING_INSTRUMENTED = False


def tracing_configure(*, service: str, exporter: str, file_path: str) -> None:
    """Install the tracer provider, its exporter and the instrumentations; once per process (later calls do nothing).

    Raises ValueError for an exporter not in EXPORTERS.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"OTEL_TRACES_EXPORTER must be one of {', '.join(EXPORTERS)}, not {exporter!r}")
    if not _configured.acquire(blocking=False):
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    # The stable HTTP conventions only: the old ones rebuild the URL from PATH_INFO as Latin-1, which a
    # server without RAW_URI (runserver, the test client) gives Django's decoded path, and /orders/١٢
    # failed with a 500 (opentelemetry-python-contrib#3237).
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}), sampler=_SAMPLER)
    provider.add_span_processor(_PROCESSORS)
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument()
    span_exporter = _exporter(exporter, file_path)
    if span_exporter is not None:
        tracing_export_to(BatchSpanProcessor(span_exporter))


def _exporter(name: str, file_path: str) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
    if name == "file":
        return JsonLinesSpanExporter(file_path)
    if name == "otlp":
        # The endpoint, headers and timeout come from OTEL_EXPORTER_OTLP_* (read by the exporter).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def tracing_export_to(processor: SpanProcessor) -> None:
    """Hand every span recorded from now on to ``processor`` too; recording starts.

    The first call also installs the instrumentations whose spans are only worth
    their cost when recorded: Django's (its middleware, for the request handlers
    built from now on) and the MySQL driver's (for the connections opened from
    now on). Without them the web's server span is TraceIdMiddleware's own, with
    the same ids and parent, and statements have no spans.
    """
    global _RECORDING_INSTRUMENTED
    _PROCESSORS.processors = (*_PROCESSORS.processors, processor)
    _SAMPLER.exporting = True
    if not _RECORDING_INSTRUMENTED:
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.mysqlclient import MySQLClientInstrumentor

        DjangoInstrumentor().instrument()
        MySQLClientInstrumentor().instrument()
        _RECORDING_INSTRUMENTED = True


def tracing_export_stop(processor: SpanProcessor) -> None:
    """Stop handing spans to ``processor``; with no processor left, recording stops."""
    _PROCESSORS.processors = tuple(kept for kept in _PROCESSORS.processors if kept is not processor)
    _SAMPLER.exporting = bool(_PROCESSORS.processors)


def traceparent_current() -> str:
    """The W3C ``traceparent`` of the current span, or "" outside any span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def traceparent_context(traceparent) -> Context:
    """The context whose (remote) current span a ``traceparent`` names; an empty context, a new trace's root,
    for anything else (a missing or malformed header is whatever a sender wrote)."""
    if not isinstance(traceparent, str) or not traceparent:
        return Context()
    return _PROPAGATOR.extract({"traceparent": traceparent}, context=Context())


def trace_id_of(traceparent: str) -> str:
    """The trace id of a ``traceparent`` this system wrote (an outbox row's), or "" for none."""
    return traceparent[3:35] if len(traceparent) == 55 else ""
