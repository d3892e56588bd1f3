"""W3C trace context carried in NATS message headers (OpenTelemetry API only; no exporter is required).

A submitter's current span context goes into the submit's ``traceparent`` header; the generator makes it
current while the task runs and copies it onto every lifecycle event, so a user's tracing links the pipeline
step to the agent run and its result.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from handoff.schemas.names import Header

# opentelemetry is imported on first use, not with the client: it is a fifth of the light client's import time.

_TRACE_HEADERS = (Header.TRACEPARENT.value, Header.TRACESTATE.value)


def current_trace_headers() -> dict[str, str]:
    """``traceparent``/``tracestate`` of the current context (empty when there is no active span).

    A process that never imported opentelemetry has no span to propagate: it is not imported for that (a
    client's first submit would wait for the import)."""
    if "opentelemetry.context" not in sys.modules:
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in _TRACE_HEADERS}


def trace_headers_of(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The trace headers of a received message, to copy onto the messages it causes."""
    return {k: v for k, v in (headers or {}).items() if k in _TRACE_HEADERS}


@contextmanager
def trace_context_from(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Make the trace context of a received message current for the duration of the block (a message without
    trace headers has none: nothing to do, and opentelemetry is not imported for it)."""
    if not headers or not any(name in headers for name in _TRACE_HEADERS):
        yield
        return
    from opentelemetry import context as otel_context
    from opentelemetry import propagate

    ctx = propagate.extract(dict(headers or {}))
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)
