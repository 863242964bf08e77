"""Tracing: the log processor, the traceparent helpers, the sampler, the file exporter, HTTP's continued trace."""

import json

import pytest
import structlog
from django.conf import settings
from django.http import HttpResponse
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from apps.common.middleware import _INSTRUMENTED_SPAN_KEY, TraceIdMiddleware
from apps.common.tests.tracing import CALLER_SPAN_ID, CALLER_TRACEPARENT, TRACE_ID, continues, in_span
from apps.common.tracing import (
    JsonLinesSpanExporter,
    trace_id_of,
    traceparent_context,
    traceparent_current,
    tracing_configure,
)
from config.logging import add_trace_ids, configure_logging

tracer = trace.get_tracer("tests")


def span_context_of(context):
    return trace.get_current_span(context).get_span_context()


# --- log lines -------------------------------------------------------------------


def test_a_line_logged_in_a_span_carries_its_trace_and_span_ids():
    with tracer.start_as_current_span("work") as span:
        event = add_trace_ids(None, "info", {"event": "x"})

    ids = span.get_span_context()
    assert (event["trace_id"], event["span_id"]) == (f"{ids.trace_id:032x}", f"{ids.span_id:016x}")


def test_a_line_logged_outside_any_span_carries_no_ids():
    assert add_trace_ids(None, "info", {"event": "x"}) == {"event": "x"}


def test_a_line_naming_its_trace_keeps_it():
    with in_span():
        event = add_trace_ids(None, "info", {"event": "x", "trace_id": "given"})

    assert event["trace_id"] == "given"


def test_every_json_line_carries_the_span_s_ids(capsys):
    configure_logging(service="test", log_format="json", level="INFO")
    try:
        with in_span() as traceparent:
            structlog.get_logger("test").info("inside")
        structlog.get_logger("test").info("outside")
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    finally:
        configure_logging(service=settings.SERVICE_NAME, log_format=settings.LOG_FORMAT, level=settings.LOG_LEVEL)

    inside, outside = lines
    _, trace_id, span_id, _ = traceparent.split("-")
    assert (inside["trace_id"], inside["span_id"]) == (trace_id, span_id)
    assert "trace_id" not in outside


# --- traceparents ------------------------------------------------------------------


def test_outside_any_span_there_is_no_traceparent():
    assert traceparent_current() == ""


def test_the_current_traceparent_names_the_current_span():
    with tracer.start_as_current_span("work") as span:
        traceparent = traceparent_current()

    ids = span.get_span_context()
    assert traceparent == f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"


def test_a_traceparent_names_a_remote_parent():
    parent = span_context_of(traceparent_context(CALLER_TRACEPARENT))

    assert (parent.trace_id, parent.span_id, parent.is_remote) == (int(TRACE_ID, 16), int(CALLER_SPAN_ID, 16), True)
    assert parent.trace_flags.sampled


def test_a_span_started_in_a_traceparent_s_context_continues_its_trace():
    with tracer.start_as_current_span("child", context=traceparent_context(CALLER_TRACEPARENT)):
        assert continues(traceparent_current(), CALLER_TRACEPARENT)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        42,
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "junk",
        f"00-{'0' * 32}-{CALLER_SPAN_ID}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"ff-{TRACE_ID}-{CALLER_SPAN_ID}-01",
        f"00-{TRACE_ID}-{CALLER_SPAN_ID}",
    ],
)
def test_anything_but_a_valid_traceparent_starts_a_new_trace(header):
    assert not span_context_of(traceparent_context(header)).is_valid


def test_the_trace_id_of_a_stored_traceparent():
    assert (trace_id_of(CALLER_TRACEPARENT), trace_id_of("")) == (TRACE_ID, "")


# --- what is recorded ------------------------------------------------------------------


def test_without_an_exporter_spans_have_ids_and_record_nothing():
    with tracer.start_as_current_span("work") as span:
        assert span.get_span_context().is_valid
        assert not span.is_recording()


def test_while_exporting_spans_are_recorded_with_their_parents(spans):
    with tracer.start_as_current_span("parent") as parent, tracer.start_as_current_span("child"):
        pass

    child, recorded_parent = spans.get_finished_spans()
    assert child.parent.span_id == parent.get_span_context().span_id
    assert recorded_parent.parent is None


def test_a_database_call_outside_any_span_is_not_recorded(spans):
    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as orphan:
        assert orphan.get_span_context().is_valid
    with tracer.start_as_current_span("work"), tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT):
        pass

    assert [span.name for span in spans.get_finished_spans()] == ["SELECT", "work"]


def test_a_parent_that_was_not_sampled_is_followed(spans):
    with tracer.start_as_current_span("work", context=traceparent_context(f"00-{TRACE_ID}-{CALLER_SPAN_ID}-00")):
        pass

    assert spans.get_finished_spans() == ()


def test_the_file_exporter_appends_one_json_line_per_span(spans, tmp_path):
    with tracer.start_as_current_span("one"), tracer.start_as_current_span("two"):
        pass
    path = tmp_path / "traces" / "web.jsonl"
    exporter = JsonLinesSpanExporter(str(path))
    exporter.export(spans.get_finished_spans())
    exporter.export(spans.get_finished_spans()[:1])
    exporter.shutdown()

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["name"] for line in lines] == ["two", "one", "two"]
    assert lines[0]["parent_id"] == lines[1]["context"]["span_id"]


def test_an_unknown_exporter_is_refused():
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing_configure(service="test", exporter="jaeger", file_path="")


# --- HTTP --------------------------------------------------------------------------


@pytest.mark.django_db(databases=["default"])
def test_a_request_continues_the_caller_s_trace(client, spans):
    response = client.get("/health", HTTP_TRACEPARENT=CALLER_TRACEPARENT)

    [server] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert (server.context.trace_id, server.parent.span_id) == (int(TRACE_ID, 16), int(CALLER_SPAN_ID, 16))
    assert response["traceparent"] == f"00-{TRACE_ID}-{server.context.span_id:016x}-01"
    # No request id of its own: the trace's id names the request.
    assert response["X-Request-ID"] == TRACE_ID


@pytest.mark.django_db(databases=["default"])
def test_a_request_without_a_traceparent_starts_a_trace_and_echoes_the_request_id(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="req-42")

    assert response["X-Request-ID"] == "req-42"
    _, trace_id, _, _ = response["traceparent"].split("-")
    assert trace_id != TRACE_ID
    assert len(trace_id) == 32


@pytest.mark.django_db(databases=["default"])
def test_a_request_id_that_is_no_id_is_not_echoed(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="<script>" * 20)

    assert response["X-Request-ID"] == response["traceparent"].split("-")[1]


@pytest.mark.django_db(databases=["default"])
def test_a_recorded_request_is_named_by_its_route_and_survives_a_non_latin_1_path(operator_client, spans):
    # The old HTTP conventions rebuilt the URL from Django's decoded path as Latin-1: a 500 (see tracing_configure).
    response = operator_client.get("/orders/%D9%A1%D9%A2")

    assert response.status_code == 400
    [server] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert server.name == "GET /orders/{order_id}"


def test_without_the_django_instrumentation_the_middleware_starts_the_server_span(rf, spans):
    seen = []

    def view(request):
        seen.append(traceparent_current())
        return HttpResponse("ok")

    response = TraceIdMiddleware(view)(rf.get("/health", HTTP_TRACEPARENT=CALLER_TRACEPARENT))

    [server] = spans.get_finished_spans()
    assert (server.kind, server.parent.span_id) == (SpanKind.SERVER, int(CALLER_SPAN_ID, 16))
    assert seen == [response["traceparent"]] == [f"00-{TRACE_ID}-{server.context.span_id:016x}-01"]


def test_under_the_django_instrumentation_the_middleware_names_its_span_and_starts_none(rf, spans):
    request = rf.get("/health")
    request.META[_INSTRUMENTED_SPAN_KEY] = "the instrumentation's span"

    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER) as server:
        response = TraceIdMiddleware(lambda request: HttpResponse("ok"))(request)

    assert [span.name for span in spans.get_finished_spans()] == [server.name]
    assert response["traceparent"].split("-")[2] == f"{server.get_span_context().span_id:016x}"
