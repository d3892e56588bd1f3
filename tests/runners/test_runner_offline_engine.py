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
from handoff.scripted_model.replies import ChatRequest, Reply
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
    # the round names the engine that runs, not the model name of the scripted server that drives the terminal, and
    # how long it may run: a wait off a terminal prints nothing else until the engines end
    assert rounds[0].endswith("agent round 1 of 1 (crosshair, no model): each engine runs up to 10 s per target")
    # the engine's packages are in the environment, and the line says so (the result's count includes them)
    ready = [m for stage, m in progress.events if stage == "environment" and ("built, " in m or "cache hit" in m)]
    assert ready and "project requirement(s) + 1 added)" in ready[-1], ready


PYTEST_9_CHECK = """import pytest


def test_the_environment_has_the_pytest_the_project_requires():
    assert int(pytest.__version__.split(".")[0]) >= 9
"""


def project_requiring(root: Path, *, dependencies: list[str], test_extra: list[str]) -> Path:
    """A project of one module, its requirements in pyproject.toml, its own test checking its pytest's version."""
    (root / "tally").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "tally" / "__init__.py").write_text("")
    (root / "tally" / "calc.py").write_text(GOOD)
    (root / "tests" / "test_calc.py").write_text(PYTEST_9_CHECK if "pytest>=9" in test_extra else "")
    listed = ", ".join(f'"{r}"' for r in dependencies)
    extra = ", ".join(f'"{r}"' for r in test_extra)
    (root / "pyproject.toml").write_text(f'[project]\nname = "tally"\nversion = "1.0.0"\ndependencies = [{listed}]\n'
                                         f"[project.optional-dependencies]\ntest = [{extra}]\n")  # fmt: skip
    return root


class Recording:
    """The offline engine's policy, keeping what each terminal command printed."""

    def __init__(self, engine: OfflineEngineSettings) -> None:
        self.policy = OfflineEnginePolicy(engine)
        self.printed: list[str] = []

    def __call__(self, request: ChatRequest) -> Reply:
        if request.last_tool_result:
            self.printed.append(request.last_tool_result)
        return self.policy(request)


async def test_a_project_whose_test_extra_requires_pytest_9_runs_both_engines_with_the_projects_pytest(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """prettytable 3.19.0: `tests = ["pytest>=9"]` against Pynguin 0.48's pytest<9 ended every task with the default
    engines as environment_failed. Now Pynguin is installed with the project's pytest>=9 in place of its pin, both
    engines run, and the project's own test of its pytest version passes in validation; progress and summary say
    what was done."""
    project = project_requiring(tmp_path / "project", dependencies=[], test_extra=["pytest>=9"])
    engine = OfflineEngineSettings(per_target_s=30)  # Pynguin must finish: 15 s can time out on a loaded machine
    model_server.policy = recording = Recording(engine)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), offline_engine=engine, feedback_rounds=0)
    progress = ProgressLog()
    ctx = make_ctx(js, await upload_snapshot(js, project), progress, targets=["tally/calc.py"])
    result = await OpenHandsTestRunner(settings).run(ctx)

    fitted = "Pynguin is installed with the project's own pytest>=9 in place of its pin (uv: pynguin>="
    assert result.summary.startswith("[offline engine: crosshair+pynguin] "), result.summary
    assert fitted in result.summary, result.summary
    assert any(stage == "environment" and fitted in message for stage, message in progress.events), progress.text()
    engines_said = "\n".join(recording.printed)
    assert "offline engine: pynguin: " in engines_said and "pynguin: no" not in engines_said, engines_said
    assert "pynguin failed" not in engines_said and "pynguin timed out" not in engines_said, engines_said
    assert result.tests_failed == 0 and result.tests_passed >= 2, result
    assert result.coverage[0].percent == 100.0


async def test_an_engine_whose_pin_the_project_contradicts_is_left_out_and_the_task_runs_with_the_other(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """wcwidth 0.9.4 pins rich==15.0.0, Pynguin 0.48 needs rich<15 (a pin Handoff does not replace): the task ended
    environment_failed. Now it runs with CrossHair alone, labelled so, and progress and summary say why."""
    project = project_requiring(tmp_path / "project", dependencies=["rich==15.0.0"], test_extra=[])
    engine = OfflineEngineSettings(per_target_s=15)
    model_server.policy = recording = Recording(engine)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), offline_engine=engine, feedback_rounds=0)
    progress = ProgressLog()
    ctx = make_ctx(js, await upload_snapshot(js, project), progress, targets=["tally/calc.py"])
    result = await OpenHandsTestRunner(settings).run(ctx)

    left_out = "Pynguin was left out: it cannot be installed with the project's requirements (uv: pynguin>="
    assert result.summary.startswith("[offline engine: crosshair] "), result.summary
    assert left_out in result.summary and "rich==15.0.0" in result.summary, result.summary
    assert "the tests come from CrossHair alone" in result.summary
    # what the engine itself said (its tests, what it failed or timed out on) is in the result, not only the log
    assert "The engines reported: crosshair: " in result.summary, result.summary
    notes = [message for stage, message in progress.events if stage == "environment" and left_out in message]
    assert notes and notes[0].startswith("[offline engine: crosshair] "), progress.text()
    rounds = [message for stage, message in progress.events if stage == "round"]
    assert rounds and "agent round 1 of 1 (crosshair, no model)" in rounds[0], rounds
    engines_said = "\n".join(recording.printed)
    assert "offline engine: crosshair: " in engines_said and "pynguin" not in engines_said, engines_said
    assert result.tests_failed == 0 and result.coverage[0].percent == 100.0, result


async def test_a_task_none_of_whose_engines_can_be_installed_fails_naming_the_conflict(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Pynguin alone configured and left out: environment_failed, naming the engine and uv's conflict; no round."""
    project = project_requiring(tmp_path / "project", dependencies=["rich==15.0.0"], test_extra=[])
    engine = OfflineEngineSettings(engines=("pynguin",), per_target_s=15)
    model_server.policy = OfflineEnginePolicy(engine)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), offline_engine=engine, feedback_rounds=0)
    progress = ProgressLog()
    ctx = make_ctx(js, await upload_snapshot(js, project), progress, targets=["tally/calc.py"])
    with pytest.raises(TaskFailure) as failed:
        await OpenHandsTestRunner(settings).run(ctx)

    assert failed.value.code == ErrorCode.ENVIRONMENT_FAILED, failed.value
    message = str(failed.value)
    assert "no offline engine can be installed with the project's requirements: Pynguin (uv: " in message, message
    assert "rich==15.0.0" in message, message
    assert "round" not in progress.stages(), progress.text()
