"""The trace context of the work in hand: one trace_id follows an order everywhere.

Bound into structlog's context variables so every log line carries it, and read
by the outbox so the next message carries it on.
"""

import re
import uuid

import structlog

_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CONTEXT_KEYS = ("trace_id", "saga_id", "order_id")


def trace_id_from(value: str | None) -> str:
    """Use a caller's id when it is sane, otherwise start a new trace."""
    if value and _TRACE_ID.match(value):
        return value
    return uuid.uuid4().hex


def trace_bind(**values) -> None:
    structlog.contextvars.bind_contextvars(**{key: str(value) for key, value in values.items() if value})


def trace_clear() -> None:
    structlog.contextvars.unbind_contextvars(*_CONTEXT_KEYS)


def current_trace_id() -> str:
    return structlog.contextvars.get_contextvars().get("trace_id", "")
