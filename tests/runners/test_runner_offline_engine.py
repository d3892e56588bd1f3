"""The offline engine through the real runner: the scripted server plays ``OfflineEnginePolicy``, the agent runs
CrossHair and Pynguin in its sandboxed terminal with the project's interpreter, and validation decides."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.offline_engine.policy import OfflineEnginePolicy
from handoff.offline_engine.settings import OfflineEngineSettings
from handoff.runners.base import TaskFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.events import ErrorCode
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from tests.runners.conftest import ProgressLog, llm_settings, make_ctx, runner_settings

pytestmark = pytest.mark.slow

GOOD = """
def clamp(x: int, lo: int, hi: int) -> int:
    if lo > hi:
        raise ValueError("lo > hi")
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x
"""
BROKEN = 'raise RuntimeError("this module cannot be imported")\n\n\ndef f(x: int) -> int:\n    return x\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "good.py").write_text(GOOD)
    (root / "calc" / "broken.py").write_text(BROKEN)
    return root


async def test_a_target_whose_engines_crash_fails_with_the_reason_while_another_task_succeeds(
    js: JetStreamContext, topology: Topology, project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Two tasks at once: the importable module gets asserting tests; the broken one fails with a reason that names
    what each engine did and nothing else."""
    engine = OfflineEngineSettings(per_target_s=15)
    model_server.policy = OfflineEnginePolicy(engine)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), offline_engine=engine, feedback_rounds=0)
    source = await upload_snapshot(js, project)
    good_progress, broken_progress = ProgressLog(), ProgressLog()
    async with OpenHandsTestRunner(settings) as runner:
        good, broken = await asyncio.gather(
            runner.run(make_ctx(js, source, good_progress, task_id="good", targets=["calc/good.py"])),
            runner.run(make_ctx(js, source, broken_progress, task_id="broken", targets=["calc/broken.py"])),
            return_exceptions=True,
        )

    assert not isinstance(good, BaseException), good
    assert good.summary.startswith("[offline engine: crosshair+pynguin] "), good.summary
    assert good.tests_failed == 0 and good.tests_passed >= 3
    assert good.test_files == ["tests/test_good.py"]
    tree = ast.parse((await get_artifact(js, good.files[0])).decode())
    tests = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert tests and sum(isinstance(n, ast.Assert) for n in ast.walk(tree)) >= 3
    assert good.coverage[0].percent == 100.0  # every line of clamp: CrossHair finds an input per path

    assert isinstance(broken, TaskFailure) and broken.code == ErrorCode.NO_FILES_PRODUCED, broken
    assert all(m.startswith("[offline engine: crosshair+pynguin] ") for _, m in broken_progress.events), (
        broken_progress.text()
    )
    # the reason a user reads says what each engine did, not that some report files were left out
    reason = f"{broken}\n{broken.detail}"
    assert "no engine produced a test for calc.broken" in reason, reason
    assert "crosshair failed" in reason and "pynguin failed" in reason, reason
    assert "pynguin-report" not in reason, reason


async def test_the_offline_engine_runs_one_round_whatever_the_feedback_rounds(
    js: JetStreamContext, topology: Topology, project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The engines run in round 1 and cannot act on feedback: wcwidth 0.9.4's bisearch.py took 247 s for three
    rounds that judged the same file three times. With two feedback rounds configured, one round runs."""
    engine = OfflineEngineSettings(engines=("crosshair",), per_target_s=10)
    model_server.policy = OfflineEnginePolicy(engine)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), offline_engine=engine, feedback_rounds=2)
    source = await upload_snapshot(js, project)
    progress = ProgressLog()
    with pytest.raises(TaskFailure) as failed:
        await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress, targets=["calc/broken.py"]))

    assert failed.value.code == ErrorCode.NO_FILES_PRODUCED
    assert "in 1 round(s)" in str(failed.value), failed.value
    rounds = [message for stage, message in progress.events if stage == "round"]
    assert len(rounds) == 1 and "agent round 1 of 1" in rounds[0], rounds
    # the round names the engine that runs, not the model name of the scripted server that drives the terminal
    assert rounds[0].endswith("agent round 1 of 1 (crosshair, no model)"), rounds
    # the engine's packages are in the environment, and the line says so (the result's count includes them)
    ready = [m for stage, m in progress.events if stage == "environment" and ("built, " in m or "cache hit" in m)]
    assert ready and "project requirement(s) + 1 added)" in ready[-1], ready
