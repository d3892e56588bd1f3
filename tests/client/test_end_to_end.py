"""Client, real generator replicas (Sleep runner) and the collector together: submit, fan out, join."""

from __future__ import annotations

from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import HandoffClient
from handoff.schemas.events import ErrorCode, Sleep, TaskStatus
from handoff.schemas.records import TaskState
from handoff.schemas.topology import Topology
from tests.collector.conftest import RunningCollector
from tests.generator.support import replica


async def test_two_runs_fan_out_over_two_generators_and_join_with_their_statuses(
    client: HandoffClient,
    js: JetStreamContext,
    topology: Topology,
    nats_server: EmbeddedNats,
    running_collector: RunningCollector,
) -> None:
    """40 tasks in 2 runs: every result comes back, each RunFinished lists its 20 tasks, records carry timings."""
    expected: dict[str, dict[str, TaskStatus]] = {"e2e-a": {}, "e2e-b": {}}
    async with (
        running_collector(js),
        replica(nats_server.url, replica_id="gen-1", slots=4),
        replica(nats_server.url, replica_id="gen-2", slots=4),
    ):
        for run_id, tasks in expected.items():
            for i in range(20):
                fails = i % 5 == 4
                payload = Sleep(duration_s=0.05, fail_with=ErrorCode.VALIDATION_FAILED if fails else None)
                task_id = await client.submit(payload, run_id=run_id, run_size=20, task_id=f"{run_id}-{i}")
                tasks[task_id] = TaskStatus.FAILED if fails else TaskStatus.SUCCEEDED
        ids = [t for tasks in expected.values() for t in tasks]
        results = await client.gather(ids, timeout=60)
        runs = {run_id: await client.wait_run(run_id, timeout=30) for run_id in expected}
        record = await client.status(ids[0])
    assert {r.task_id: r.status for r in results} == {t: s for tasks in expected.values() for t, s in tasks.items()}
    for run_id, tasks in expected.items():
        assert {t.task_id: t.status for t in runs[run_id].tasks} == tasks
        assert runs[run_id].counts == {TaskStatus.SUCCEEDED: 16, TaskStatus.FAILED: 4}
    assert {r.replica_id for r in results} <= {"gen-1", "gen-2"}
    assert record.state == TaskState.SUCCEEDED and record.replica_id in {"gen-1", "gen-2"}
    assert record.timings.queue_wait_s is not None and record.timings.run_s is not None
    assert record.timings.total_s is not None and record.timings.total_s >= record.timings.run_s
