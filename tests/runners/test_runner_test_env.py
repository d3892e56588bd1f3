"""A project whose tests need an environment variable (wcwidth 0.9.4's conftest fails every test unless its C
extension is built or WCWIDTH_PYTHON=1): the task's test_env reaches the baseline, the judging of each test, the
validation on a clean copy and the agent's commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply
from handoff.scripted_model.scripts import Script, create_file, finish, run
from tests.runners.conftest import ProgressLog, llm_settings, make_ctx, runner_settings, workspace_of

TARGET = "gated.py"
GEN = "tests/test_generated.py"
MODULE = """def sign(x):
    if x > 0:
        return "positive"
    if x < 0:
        return "negative"
    return "zero"
"""
CONFTEST = """import os

import pytest


def pytest_runtest_setup(item):
    if os.environ.get("GATED_PURE") != "1":
        pytest.fail("the C extension is not built: build it or set GATED_PURE=1")
"""
EXISTING = "from gated import sign\n\n\ndef test_positive():\n    assert sign(3) == 'positive'\n"
GENERATED = ("import os\n\nfrom gated import sign\n\n\ndef test_negative_and_zero():\n"
             "    assert os.environ['GATED_PURE'] == '1'\n    assert sign(-1) == 'negative'\n"
             "    assert sign(0) == 'zero'\n")  # fmt: skip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # real pytest and coverage runs, sandboxed


@pytest.fixture
def gated_project(tmp_path: Path) -> Path:
    root = tmp_path / "gated"
    (root / "tests").mkdir(parents=True)
    (root / TARGET).write_text(MODULE)
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "test_gated.py").write_text(EXISTING)
    return root


async def test_the_tasks_test_env_lets_the_projects_tests_and_the_generated_ones_run_everywhere(
    js: JetStreamContext, topology: Topology, gated_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """With test_env GATED_PURE=1 the project's test counts in the baseline (not "every test failed"), the
    generated test passes judging and validation, and the agent's shell sees the variable."""
    seen: list[str] = []

    def write_tests(request: ChatRequest) -> Reply:
        seen.append(json.dumps(request.messages))  # holds the output of the command before
        return create_file(str(workspace_of(request) / GEN), GENERATED)

    model_server.policy = Script([run("echo gate=$GATED_PURE"), write_tests, finish("tests written")])
    source = await upload_snapshot(js, gated_project)
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, ProgressLog(), targets=[TARGET], test_env={"GATED_PURE": "1"})
    )

    assert result.baseline_problem == ""
    (q,) = result.quality
    assert q.baseline_line_pct == 50.0  # the project's test_positive ran (the import alone: 16.67)
    assert q.final_line_pct == 100.0
    assert result.tests_kept == [f"{GEN}::test_negative_and_zero"]
    assert "gate=1" in seen[0]
