"""A project whose own tests pytest cannot collect or run (like toposort 1.10: `test/` modules ending in
`unittest.main()`): the task says so wherever its coverage baseline is shown, instead of reading the coverage of
what was imported as "the existing tests cover this much". A project some of whose tests fail in the baseline run:
the task names them, with pytest's reason."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.cli import quality, result_cmd
from handoff.offline_engine.policy import OfflineEnginePolicy
from handoff.offline_engine.settings import OfflineEngineSettings
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.events import ErrorCode, TaskFinished, TaskStatus
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.scripts import Script, create_file, finish
from tests.runners.conftest import ProgressLog, in_workspace, llm_settings, make_ctx, runner_settings

ORDERING = Path(__file__).parents[1] / "assurance" / "projects" / "ordering"
TARGET = "ordering.py"
GEN = "test/test_generated.py"  # the project keeps its tests in test/
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


CLAMP = """
def clamp(x: int, lo: int, hi: int) -> int:
    if lo > hi:
        raise ValueError("lo > hi")
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x
"""
OWN_TESTS = """from calc.clamp import clamp


def test_inside_is_kept():
    assert clamp(2, 0, 3) == 2


def test_above_is_cut_to_hi():
    assert clamp(5, 0, 3) == 5
"""
FAILED = ("1 of the project's 2 tests failed in the baseline run: tests/test_calc.py::test_above_is_cut_to_hi "
          "(assert 3 == 5) (it counts what they ran up to the failure)")  # fmt: skip


async def test_a_task_on_a_project_with_a_failing_test_names_it_in_its_summary_and_progress(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """One of the project's two tests fails on the clean snapshot: the summary and the progress say how many failed
    and name it with pytest's one-line reason (what it runs after the failing line is missing from the baseline); the
    baseline is still the project's suite, and the generated tests are judged as before."""
    root = tmp_path / "project"
    (root / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "clamp.py").write_text(CLAMP)
    (root / "tests" / "test_calc.py").write_text(OWN_TESTS)
    engine = OfflineEngineSettings(engines=("crosshair",), per_target_s=10)
    model_server.policy = OfflineEnginePolicy(engine)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), offline_engine=engine, feedback_rounds=0)
    source = await upload_snapshot(js, root)
    progress = ProgressLog()
    result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress, targets=["calc/clamp.py"]))

    assert result.baseline_problem == ""  # the suite ran: the baseline is the project's
    assert result.tests_kept and result.tests_failed == 0
    assert result.summary.startswith(f"[offline engine: crosshair] Baseline: {FAILED}. Wrote 1 test file(s)"), \
        result.summary  # fmt: skip
    assert f"assurance: [offline engine: crosshair] baseline: {FAILED}" in progress.text()
    assert not any("test_calc.py" in test for test in result.tests_kept + [d.test for d in result.tests_dropped])


async def test_a_failing_project_test_in_the_file_the_engine_extends_is_named_in_the_failure(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The failing test is in the project's tests/test_clamp.py, which the engine extends: validating that file fails
    on it, and the failure's detail says it failed in the baseline run too (it is not the generated tests' doing)."""
    root = tmp_path / "project"
    (root / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "clamp.py").write_text(CLAMP)
    (root / "tests" / "test_clamp.py").write_text(OWN_TESTS)
    engine = OfflineEngineSettings(engines=("crosshair",), per_target_s=10)
    model_server.policy = OfflineEnginePolicy(engine)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), offline_engine=engine, feedback_rounds=0)
    source = await upload_snapshot(js, root)
    progress = ProgressLog()
    with pytest.raises(PermanentFailure) as failed:
        await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress, targets=["calc/clamp.py"]))

    said = FAILED.replace("test_calc.py", "test_clamp.py")
    assert f"Baseline: {said}." in failed.value.detail.splitlines()[-15:], failed.value.detail
    assert f"baseline: {said}" in progress.text()
