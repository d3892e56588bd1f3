"""W3C trace context from a pipeline's span, through the submit, onto every lifecycle event of the task."""

from __future__ import annotations

import subprocess
import sys

from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from handoff.broker.embedded import EmbeddedNats
from handoff.client import HandoffClient
from handoff.schemas import names
from handoff.schemas.events import Sleep
from handoff.schemas.topology import Topology
from tests.generator.support import replica

TRACE_ID = 0x1234567890ABCDEF1234567890ABCDEF
PIPELINE_SPAN = SpanContext(trace_id=TRACE_ID, span_id=0x1111111111111111, is_remote=False,
                            trace_flags=TraceFlags(TraceFlags.SAMPLED))  # fmt: skip


async def test_a_submit_inside_a_span_links_the_agent_run_and_its_result_to_that_trace(
    client: HandoffClient, js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats
) -> None:
    """The submit, started and finished events all carry the pipeline span's traceparent."""
    with trace.use_span(NonRecordingSpan(PIPELINE_SPAN)):
        task_id = await client.submit(Sleep(duration_s=0.05), task_id="traced-1")
    untraced = await client.submit(Sleep(duration_s=0.05), task_id="untraced-1")
    async with replica(nats_server.url, replica_id="g1"):
        await client.gather([task_id, untraced], timeout=30)
    expected = f"00-{TRACE_ID:032x}-{0x1111111111111111:016x}-01"
    for event in (names.EventType.SUBMITTED, names.EventType.STARTED, names.EventType.FINISHED):
        stored = await js.get_last_msg(names.EVENTS_STREAM, names.task_subject(None, task_id, event))
        assert (stored.headers or {}).get("traceparent") == expected, event
        plain = await js.get_last_msg(names.EVENTS_STREAM, names.task_subject(None, untraced, event))
        assert "traceparent" not in (plain.headers or {}), event


def test_a_process_without_opentelemetry_does_not_import_it_to_submit_or_to_run_a_task() -> None:
    """No span can be active where opentelemetry was never imported: a client's first submit and a replica's first
    task do not wait for its import (tens of milliseconds)."""
    probe = (
        "import sys\n"
        "from handoff.observability.tracing import current_trace_headers, trace_context_from\n"
        "assert current_trace_headers() == {}\n"
        "with trace_context_from({'Nats-Msg-Id': 'x'}):\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
