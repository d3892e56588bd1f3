"""The generator and the real agent runner meet through the registry (the model is the scripted stand-in)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.broker.embedded import EmbeddedNats
from handoff.common.clock import utcnow
from handoff.runners.registry import RunnerUnavailable, default_registry
from handoff.schemas.events import GenerateTests, TaskStatus, TaskSubmitted, TestGenerationResult
from handoff.schemas.topology import Topology, TopologyParams
from tests.generator.support import finished_events, replica, started_events, submit
from tests.runners.conftest import ENV_CACHE
from tests.support.nats import FAST_TOPOLOGY, eventually

SAMPLE = Path(__file__).parent.parent / "runners" / "sample_project"


@pytest.fixture
def topology_params() -> TopologyParams:
    """A generous ack_wait: these tests count one start per task, and the agent SDK's first import, in a thread,
    can hold the event loop (and so the heartbeats) for over a second on a loaded machine; redelivery is tested
    elsewhere."""
    return msgspec.structs.replace(FAST_TOPOLOGY, ack_wait_s=30.0)


async def test_without_an_llm_the_default_registry_runs_the_offline_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no model configured, generate_tests resolves to the agent runner driven by the offline engine."""
    for name in ("HANDOFF_LLM_MODEL", "HANDOFF_LLM_BASE_URL", "HANDOFF_SCRIPTED_MODEL", "HANDOFF_OFFLINE_ENGINES"):
        monkeypatch.delenv(name, raising=False)
    registry = default_registry()
    runner = await registry.resolve(GenerateTests)
    settings = runner.settings  # type: ignore[attr-defined]
    assert settings.offline_engine is not None and settings.label == "[offline engine: crosshair+pynguin] "
    await registry.aclose()


async def test_a_misspelt_engine_makes_the_runner_unavailable_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A malformed HANDOFF_OFFLINE_ENGINES is reported by name, not as a failure of some later step."""
    for name in ("HANDOFF_LLM_MODEL", "HANDOFF_SCRIPTED_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HANDOFF_OFFLINE_ENGINES", "crosshare")
    registry = default_registry()
    with pytest.raises(RunnerUnavailable) as info:
        await registry.resolve(GenerateTests)
    assert info.value.kind == "generate_tests" and "HANDOFF_OFFLINE_ENGINES" in info.value.reason
    await registry.aclose()


@pytest.mark.slow
async def test_a_generate_tests_task_runs_the_agent_runner_from_the_default_registry(
    nats_server: EmbeddedNats,
    js: JetStreamContext,
    topology: Topology,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A generate_tests submit is run by the OpenHands runner the registry builds; its result is the finish."""
    monkeypatch.setenv("HANDOFF_SCRIPTED_MODEL", "true")
    monkeypatch.setenv("HANDOFF_MUTATION_BUDGET_S", "0")  # the registry is under test; mutation: tests/runners
    monkeypatch.setenv("HANDOFF_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("HANDOFF_FEEDBACK_ROUNDS", "0")
    monkeypatch.setenv("HANDOFF_RELIABILITY_RUNS", "1")  # re-runs: tests/assurance and tests/runners
    monkeypatch.setenv("HANDOFF_ENV_CACHE_DIR", str(ENV_CACHE))
    source = await upload_snapshot(js, SAMPLE)
    task = TaskSubmitted(
        task_id="agent-1",
        payload=GenerateTests(source=source, targets=["shapes/geometry.py"], coverage_goal_pct=10.0),
        submitted_at=utcnow(),
    )
    async with replica(nats_server.url, replica_id="agent-replica", runners=None):
        await submit(js, task)
        (finished,) = await eventually(
            lambda: finished_events(js, "agent-1"), timeout_s=90, interval_s=0.5, what="the agent task"
        )
    assert finished.status is TaskStatus.SUCCEEDED, finished.error
    assert isinstance(finished.result, TestGenerationResult)
    assert finished.result.files_produced and finished.result.test_files
    assert finished.result.summary.startswith("[scripted model]")
    assert [s.replica_id for s in await started_events(js, "agent-1")] == ["agent-replica"]
