"""With no LLM configured and HANDOFF_SCRIPTED_MODEL=true, the runner drives the agent with its own scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.topology import Topology
from tests.runners.conftest import ENV_CACHE, ProgressLog, make_ctx


async def test_scripted_mode_runs_the_real_agent_and_labels_everything_as_scripted(
    js: JetStreamContext,
    topology: Topology,
    sample_project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """from_env in scripted mode starts a scripted server; tests get written and run; output says 'scripted'."""
    monkeypatch.setenv("HANDOFF_SCRIPTED_MODEL", "true")
    monkeypatch.setenv("HANDOFF_MUTATION_BUDGET_S", "0")  # scripted mode is under test; mutation: test_runner_assurance
    monkeypatch.setenv("HANDOFF_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("HANDOFF_LLM_STREAM", "true")  # server-sent events through the real LLM client
    monkeypatch.setenv("HANDOFF_FEEDBACK_ROUNDS", "1")
    monkeypatch.setenv("HANDOFF_RELIABILITY_RUNS", "1")  # re-runs: tests/assurance and test_runner_assurance
    monkeypatch.setenv("HANDOFF_ENV_CACHE_DIR", str(ENV_CACHE))  # the session's warm environments
    source = await upload_snapshot(js, sample_project)
    progress = ProgressLog()
    async with OpenHandsTestRunner.from_env() as runner:
        result = await runner.run(make_ctx(js, source, progress))

    assert result.summary.startswith("[scripted model] ")
    assert all(message.startswith("[scripted model] ") for _, message in progress.events), progress.text()
    assert result.test_files == ["tests/test_geometry.py"]
    # the generic import test checks only the module object it got (useless); the doctest one runs the module's code
    assert result.tests_failed == 0 and result.tests_passed == len(result.tests_kept) == 1
    assert [d.verdict.value for d in result.tests_dropped] == ["useless"]
    generated = (await get_artifact(js, result.files[0])).decode()
    assert "scripted model" in generated and "import_module" in generated
    # the generic scripted tests only import the module: the goal is honestly reported as not met
    assert not result.goal_met and result.coverage[0].percent < 80
    assert result.rounds_used == 2, "coverage below the goal should have earned a feedback round"
    assert result.usage.model.endswith("handoff-scripted")
