"""Health endpoints answer from the service's state; trace context survives a trip through message headers."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from handoff.observability import metrics
from handoff.observability.http import HealthServer
from handoff.observability.tracing import current_trace_headers, trace_context_from, trace_headers_of
from tests.support.net import http_get_async


async def test_readyz_follows_the_ready_probe_and_healthz_the_live_probe() -> None:
    """/readyz is 503 until the probe says ready, then 200; /healthz reflects liveness; unknown paths are 404."""
    state = {"ready": False}
    async with HealthServer(port=0, host="127.0.0.1", ready=lambda: state["ready"]) as server:
        assert (await http_get_async(server.port, "/readyz"))[0] == 503
        state["ready"] = True
        assert await http_get_async(server.port, "/readyz") == (200, "ready\n")
        assert (await http_get_async(server.port, "/healthz"))[0] == 200
        assert (await http_get_async(server.port, "/nope"))[0] == 404


async def test_metrics_endpoint_shows_counters_moving() -> None:
    """A counter incremented in the process shows its new value on /metrics."""
    async with HealthServer(port=0, host="127.0.0.1", ready=lambda: True) as server:
        before = metrics.DEAD_LETTERS.labels(origin="test", reason="undecodable")._value.get()
        metrics.DEAD_LETTERS.labels(origin="test", reason="undecodable").inc()
        status, body = await http_get_async(server.port, "/metrics")
    assert status == 200
    line = f'handoff_dead_letters_total{{origin="test",reason="undecodable"}} {before + 1}'
    assert line in body


def test_trace_context_is_carried_through_headers() -> None:
    """The traceparent written from an active span is the one made current again on the receiving side."""
    assert current_trace_headers() == {}
    span_context = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with trace.use_span(NonRecordingSpan(span_context)):
        headers = current_trace_headers()
    assert headers["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    received = trace_headers_of({**headers, "Nats-Msg-Id": "x"})
    assert received == headers
    with trace_context_from(received):
        assert current_trace_headers() == headers
    assert current_trace_headers() == {}
