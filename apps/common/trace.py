"""The trace context of the work in hand: one trace_id follows an order everywhere.

Bound into structlog's context variables so every log line carries it, and read
by the outbox so the next message carries it on. A W3C ``traceparent`` is
accepted on the way in and sent on with every message, so the system drops into
an OpenTelemetry setup without code changes.
"""

import random
import re

import structlog

_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_W3C_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_CONTEXT_KEYS = ("trace_id", "saga_id", "order_id")


def trace_id_from(*, traceparent: str | None = None, request_id: str | None = None) -> str:
    """The trace id of an incoming request or message.

    A valid W3C ``traceparent`` wins (its trace-id), then a sane ``X-Request-ID``;
    otherwise a new trace starts, in the W3C format.
    """
    if traceparent:
        match = _TRACEPARENT.match(traceparent.strip().lower())
        if match and match.group(1) != "0" * 32:
            return match.group(1)
    if request_id and _TRACE_ID.match(request_id):
        return request_id
    return _random_hex(32)


def traceparent_for(trace_id: str, *, span_id: str | None = None) -> str | None:
    """A ``traceparent`` carrying ``trace_id``, when it is a W3C trace id; else None."""
    if not _W3C_TRACE_ID.match(trace_id or ""):
        return None
    span = span_id if span_id and _SPAN_ID.fullmatch(span_id) else _random_hex(16)
    return f"00-{trace_id}-{span}-01"


def _random_hex(digits: int) -> str:
    # Trace ids need to be unique, not secret: no system entropy call per request.
    return f"{random.getrandbits(digits * 4):0{digits}x}"


def trace_bind(**values) -> None:
    structlog.contextvars.bind_contextvars(**{key: str(value) for key, value in values.items() if value})


def trace_clear() -> None:
    structlog.contextvars.unbind_contextvars(*_CONTEXT_KEYS)


def current_trace_id() -> str:
    return structlog.contextvars.get_contextvars().get("trace_id", "")
