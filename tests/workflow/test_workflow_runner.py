"""The workflow runner against real generator replicas, collector and client (Sleep tasks stand in for agents)."""

from __future__ import annotations

from pathlib import Path

from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import HandoffClient
from handoff.schemas.events import ErrorCode, Sleep, TaskPayload
from handoff.schemas.topology import Topology
from handoff.workflow.backend import ClientBackend
from handoff.workflow.config import Mode, parse_workflow
from handoff.workflow.runner import WorkflowRunner
from tests.collector.conftest import RunningCollector
from tests.generator.support import replica
from tests.workflow.stages import STARTED

WORKFLOW = """
[workflow]
component = "pkg"
join_timeout_s = 60
task_timeout_s = 60

[[stages]]
name = "testing"
call = "tests.workflow.stages:mark"

[[stages]]
name = "test-generation"
kind = "generate_tests"

[[stages]]
name = "refactoring"
call = "tests.workflow.stages:mark"
args = { seconds = 0.2 }

[[stages]]
name = "deploy"
call = "tests.workflow.stages:mark"
needs_generated_tests = true
"""


def make_repo(root: Path, modules: int) -> Path:
    (root / "pkg").mkdir(parents=True)
    for i in range(modules):
        (root / "pkg" / f"m{i}.py").write_text(f"VALUE = {i}\n")
    return root


def sleeping(fail_target: str | None = None, seconds: float = 0.6):
    def factory(target: str) -> TaskPayload:
        fails = target == fail_target
        return Sleep(duration_s=seconds, fail_with=ErrorCode.VALIDATION_FAILED if fails else None)

    return factory


async def test_non_blocking_runs_later_stages_while_tasks_work_and_reports_a_failed_task(
    client: HandoffClient,
    js: JetStreamContext,
    topology: Topology,
    nats_server: EmbeddedNats,
    running_collector: RunningCollector,
    tmp_path: Path,
) -> None:
    """Refactoring starts before any generation finished; deploy waits at the join; a failure is reported, no hang."""
    repo = make_repo(tmp_path / "repo", modules=4)
    runner = WorkflowRunner(
        backend=ClientBackend(client, payload_factory=sleeping(fail_target="pkg/m2.py")),
        repo=repo,
        workflow=parse_workflow(WORKFLOW),
        mode=Mode.NON_BLOCKING,
    )
    async with running_collector(js), replica(nats_server.url, replica_id="g1", slots=2):
        report = await runner.run()
    finishes = {g.task_id: (await client.result(g.task_id, timeout=5)).finished_at for g in report.generation}
    refactoring_started = STARTED[f"{runner.run_id}:refactoring"]
    deploy_started = STARTED[f"{runner.run_id}:deploy"]
    assert all(refactoring_started < at for at in finishes.values())
    assert all(deploy_started > at for at in finishes.values())
    assert [s.name for s in report.stages] == ["testing", "test-generation", "refactoring", "join (implicit)", "deploy"]
    statuses = {g.target: g.status for g in report.generation}
    assert statuses == {
        "pkg/m0.py": "succeeded",
        "pkg/m1.py": "succeeded",
        "pkg/m2.py": "failed",
        "pkg/m3.py": "succeeded",
    }
    failed = next(g for g in report.generation if g.target == "pkg/m2.py")
    assert failed.error_code == ErrorCode.VALIDATION_FAILED
    assert not report.ok
    assert "pkg/m2.py" in report.timeline() and "failed" in report.timeline()


async def test_blocking_mode_awaits_every_generation_before_the_next_stage(
    client: HandoffClient,
    js: JetStreamContext,
    topology: Topology,
    nats_server: EmbeddedNats,
    running_collector: RunningCollector,
    tmp_path: Path,
) -> None:
    """In blocking mode refactoring starts only after the last generation task finished; all succeed."""
    repo = make_repo(tmp_path / "repo", modules=3)
    runner = WorkflowRunner(
        backend=ClientBackend(client, payload_factory=sleeping(seconds=0.2)),
        repo=repo,
        workflow=parse_workflow(WORKFLOW),
        mode=Mode.BLOCKING,
    )
    async with running_collector(js), replica(nats_server.url, replica_id="g1", slots=2):
        report = await runner.run()
    finishes = [(await client.result(g.task_id, timeout=5)).finished_at for g in report.generation]
    assert all(STARTED[f"{runner.run_id}:refactoring"] > at for at in finishes)
    assert report.ok and [g.status for g in report.generation] == ["succeeded"] * 3


async def test_a_join_deadline_reports_unfinished_tasks_instead_of_hanging(
    client: HandoffClient,
    js: JetStreamContext,
    topology: Topology,
    nats_server: EmbeddedNats,
    running_collector: RunningCollector,
    tmp_path: Path,
) -> None:
    """With no generator running, the join gives up at its deadline and reports every task as wait_timed_out."""
    repo = make_repo(tmp_path / "repo", modules=2)
    workflow = parse_workflow(WORKFLOW.replace("join_timeout_s = 60", "join_timeout_s = 1"))
    runner = WorkflowRunner(
        backend=ClientBackend(client, payload_factory=sleeping()), repo=repo, workflow=workflow, mode=Mode.NON_BLOCKING
    )
    async with running_collector(js):
        report = await runner.run()
    assert [g.status for g in report.generation] == ["wait_timed_out", "wait_timed_out"]
    assert "keeps running" in report.generation[0].error
    assert report.stages[-1].name == "deploy"  # the pipeline went on and ended
