"""Tasks run in their project's own environment: its dependencies, its pytest configuration, none of Handoff's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.offline_engine.settings import ENGINE_PACKAGES, HYBRID_ENGINES
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.events import ErrorCode
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply
from handoff.scripted_model.scripts import Script, create_file, finish, run
from tests.runners.conftest import ENV_PROJECT, ProgressLog, in_workspace, llm_settings, make_ctx, runner_settings

TARGET = "wordfreq/counting.py"
TEST_FILE = "tests/test_counting.py"
COUNTING_TEST = """import importlib.util
import sys

import pytest
import toolz

from wordfreq.counting import counts, most_common, words


def test_words_are_lowercased_without_punctuation():
    assert words("Hello, hello world!") == ["hello", "hello", "world"]


def test_counts_tally_each_word():
    assert counts("a b a") == {"a": 2, "b": 1}
    assert toolz.frequencies("aab") == {"a": 2, "b": 1}


def test_most_common_returns_the_top_words():
    assert most_common("x y x z x y", 2) == ["x", "y"]


def test_most_common_refuses_a_count_below_one():
    with pytest.raises(ValueError):
        most_common("x", 0)


def test_the_dependency_comes_from_the_project_environment_without_handoff_plugins():
    assert toolz.__file__.startswith(sys.prefix) and sys.prefix != sys.base_prefix
    assert importlib.util.find_spec("pytest_asyncio") is None and importlib.util.find_spec("msgspec") is None
"""


@pytest.fixture
def env_project(tmp_path: Path) -> Path:
    dest = tmp_path / "env-project"
    shutil.copytree(ENV_PROJECT, dest)
    return dest


async def test_a_project_that_imports_its_dependency_and_errors_on_warnings_validates_and_succeeds(
    js: JetStreamContext, topology: Topology, env_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """toolz comes from the project's env (the written test checks where from), and no Handoff plugin warns."""
    terminal: list[str] = []

    def finish_after_reading(request: ChatRequest) -> Reply:
        terminal.append(request.last_tool_result or "")
        return finish("tests written")

    model_server.policy = Script(
        [
            in_workspace(TEST_FILE, lambda path: create_file(path, COUNTING_TEST)),
            run(f"python -m pytest -q {TEST_FILE}"),
            finish_after_reading,
        ]
    )
    source = await upload_snapshot(js, env_project)
    progress = ProgressLog()
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url)))
    result = await runner.run(make_ctx(js, source, progress, targets=[TARGET], coverage_goal_pct=90.0))

    kept = len(result.tests_kept)
    assert (result.tests_collected, result.tests_passed, result.tests_failed) == (kept, kept, 0)
    assert kept + len(result.tests_dropped) == 5 and {d.verdict.value for d in result.tests_dropped} <= {"useless"}
    assert [(c.target, c.percent) for c in result.coverage] == [(TARGET, 100.0)]
    assert result.goal_met and result.rounds_used == 1
    env = result.environment
    # toolz, plus the engines a real model is offered (the hybrid: CrossHair)
    hybrid = [ENGINE_PACKAGES[engine] for engine in HYBRID_ENGINES]
    assert env is not None and env.sources == ["pyproject.toml"] and env.requirements == 1
    assert env.added_packages == hybrid  # as the progress line says: 1 project requirement(s) + 1 added
    assert env.python.startswith("3.") and env.env_s >= 0
    assert "5 passed" in terminal[0], f"the agent's terminal did not run in the project env: {terminal[0]}"
    lines = [message for stage, message in progress.events if stage == "environment"]
    assert lines and lines[-1].startswith(("cache hit", "built")), lines


async def test_an_unknown_package_ends_the_task_as_environment_failed_with_the_installer_output(
    js: JetStreamContext, topology: Topology, env_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A dependency the index does not have: permanent environment_failed, uv's message in the detail, no agent."""
    model_server.policy = Script([finish("the agent must not start")])
    source = await upload_snapshot(js, env_project)
    progress = ProgressLog()
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url)))
    ctx = make_ctx(js, source, progress, targets=[TARGET], extra_packages=["handoff-no-such-package-4711"])
    with pytest.raises(PermanentFailure) as failure:
        await runner.run(ctx)

    assert failure.value.code == ErrorCode.ENVIRONMENT_FAILED
    assert "handoff-no-such-package-4711" in failure.value.detail
    assert "round" not in progress.stages(), "the agent started although the environment failed"
    assert not list((tmp_path / "work").iterdir()), "the task workspace was not cleaned up"


async def test_a_project_whose_addopts_use_pytest_cov_it_does_not_declare_gets_it_and_the_progress_says_so(
    js: JetStreamContext, topology: Topology, env_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """semver 3.0.2's case (``--cov=semver`` in its addopts, pytest-cov declared only in tox.ini): pytest refused to
    start, so the baseline read nothing and every test was dropped. Now pytest-cov is added, the progress names it
    and the option that asked for it, and the task measures and keeps its tests."""
    pyproject = env_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'addopts = "--cov=wordfreq --cov-report=term-missing"\n')
    model_server.policy = Script([in_workspace(TEST_FILE, lambda path: create_file(path, COUNTING_TEST)),
                                  run(f"python -m pytest -q {TEST_FILE}"), finish("tests written")])  # fmt: skip
    source = await upload_snapshot(js, env_project)
    progress = ProgressLog()
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url)))
    result = await runner.run(make_ctx(js, source, progress, targets=[TARGET], coverage_goal_pct=90.0))

    lines = [message for stage, message in progress.events if stage == "environment"]
    assert (
        "added pytest-cov: pyproject.toml [tool.pytest.ini_options] addopts uses --cov=wordfreq "
        "--cov-report=term-missing and the project does not declare it"
    ) in lines, lines
    assert not result.baseline_problem, result.baseline_problem
    assert result.tests_kept and [(c.target, c.percent) for c in result.coverage] == [(TARGET, 100.0)]
    assert not result.refused, result.refused
