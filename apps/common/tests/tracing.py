"""Helpers for tests about the traceparents that outbox rows and messages carry."""

import contextlib

from opentelemetry import trace

from apps.common.tracing import traceparent_current

# A caller's traceparent, as another system would send it.
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
CALLER_TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"


@contextlib.contextmanager
def in_span(name: str = "test"):
    """Run the block in a span of its own (recorded or not); yield its traceparent."""
    with trace.get_tracer("tests").start_as_current_span(name):
        yield traceparent_current()


def continues(traceparent: str, parent: str) -> bool:
    """Whether ``traceparent`` names a span of ``parent``'s trace other than ``parent``'s own span."""
    version, trace_id, span_id, _flags = traceparent.split("-")
    return (version, trace_id) == ("00", parent.split("-")[1]) and span_id != parent.split("-")[2]
