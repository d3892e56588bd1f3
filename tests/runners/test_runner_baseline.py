"""A project whose own tests pytest cannot collect or run (like toposort 1.10: `test/` modules ending in
`unittest.main()`): the task says so wherever its coverage baseline is shown, instead of reading the coverage of
what was imported as "the existing tests cover this much"."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.cli import quality, result_cmd
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.events import ErrorCode, TaskFinished, TaskStatus
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.scripts import Script, create_file, finish
from tests.runners.conftest import ProgressLog, in_workspace, llm_settings, make_ctx, runner_settings

ORDERING = Path(__file__).parents[1] / "assurance" / "projects" / "ordering"
TARGET = "ordering.py"
GEN = "tests/test_generated.py"
GOOD = "from ordering import order\n\n\ndef test_sorts_and_empty():\n    assert order([2, 1]) == [1, 2]\n" \
       "    assert order([]) == []\n"  # fmt: skip
FAILING = "from ordering import order\n\n\ndef test_wrong():\n    assert order([2, 1]) == [2, 1]\n"
PROBLEM = ("the project's existing tests could not be collected or run: pytest stopped with an internal error: "
           "SystemExit: 2, raised at test/test_ordering.py:15 (unittest.main()); the coverage baseline is not the "
           "project's suite (only what ran before pytest stopped)")  # fmt: skip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # real pytest and coverage runs, sandboxed


@pytest.fixture
def ordering_project(tmp_path: Path) -> Path:
    dest = tmp_path / "ordering"
    shutil.copytree(ORDERING, dest)
    return dest


async def test_a_task_on_a_project_whose_tests_do_not_run_says_its_baseline_is_not_their_coverage(
    js: JetStreamContext, topology: Topology, ordering_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The kept test is handed over; the result, its summary, progress, `handoff result` and `handoff wait` say the
    project's tests did not run, with pytest's reason, and label the coverage baseline as not theirs."""
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, GOOD)), finish("tests written")])
    source = await upload_snapshot(js, ordering_project)
    progress = ProgressLog()
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, progress, targets=[TARGET])
    )

    assert result.tests_kept == [f"{GEN}::test_sorts_and_empty"]
    assert result.baseline_problem == PROBLEM
    (q,) = result.quality
    assert (q.baseline_line_pct, q.final_line_pct) == (25.0, 100.0)
    assert result.summary.startswith(f"Baseline: {PROBLEM}. Wrote 1 test file(s)")
    assert "Coverage (baseline without the project's tests, see above -> with the kept tests): ordering.py: " \
           "line 25 -> 100 %" in result.summary  # fmt: skip
    assert f"assurance: baseline: {PROBLEM}" in progress.text()

    finished = TaskFinished(task_id="task-1", status=TaskStatus.SUCCEEDED, finished_at=datetime.now(UTC),
                            result=result)  # fmt: skip
    assert f"  baseline NOT the project's tests: {PROBLEM}" in result_cmd.summarize(finished)
    assert quality.short(result).startswith("[the project's own tests did not run; see handoff result] ordering.py")


async def test_a_failed_task_on_a_project_whose_tests_do_not_run_names_the_reason_in_its_detail(
    js: JetStreamContext, topology: Topology, ordering_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Every generated test dropped: the failure's detail names the baseline problem within its last 15 lines (what
    `handoff result` prints), so "the existing tests reach 25 %" is not read as the project's suite."""
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, FAILING)), finish("tests written")])
    source = await upload_snapshot(js, ordering_project)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), feedback_rounds=0)
    with pytest.raises(PermanentFailure) as failed:
        await OpenHandsTestRunner(settings).run(make_ctx(js, source, ProgressLog(), targets=[TARGET]))

    assert failed.value.code == ErrorCode.VALIDATION_FAILED
    assert f"Baseline: {PROBLEM}." in failed.value.detail.splitlines()[-15:]
