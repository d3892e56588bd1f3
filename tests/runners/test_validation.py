"""The runner's own validation: compile, run with pytest under coverage, parse junit and coverage reports."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.validation import ValidationReport, select_test_files, validate
from tests.runners.conftest import FAILING_TEST, PASSING_TEST, SAMPLE, TARGET, TEST_FILE, task_sandbox

PARTIAL_TEST = "from shapes.geometry import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n"


@pytest.fixture
def dirs(tmp_path: Path) -> ws.TaskDirs:
    dirs = ws.TaskDirs.create(tmp_path, "v", 1)
    shutil.copytree(SAMPLE, dirs.workspace)
    return dirs


async def _validate(dirs: ws.TaskDirs, test_text: str | None, *, timeout_s: float = 60.0) -> ValidationReport:
    files = []
    if test_text is not None:
        (dirs.workspace / TEST_FILE).write_text(test_text)
        files = [TEST_FILE]
    return await validate(
        dirs=dirs,
        python=Path(sys.executable),
        tree=dirs.workspace,
        env=ws.agent_env(dirs),
        test_files=files,
        targets=[TARGET],
        goal_pct=80.0,
        timeout_s=timeout_s,
        max_output_chars=10_000,
        sandbox=task_sandbox(),
    )


async def test_passing_tests_are_counted_and_their_coverage_measured(dirs: ws.TaskDirs) -> None:
    """Three passing tests that exercise every line: ok, 3/3, 100 %, goal met."""
    report = await _validate(dirs, PASSING_TEST)
    assert report.ok and report.goal_met
    assert (report.collected, report.passed, report.failed) == (3, 3, 0)
    assert report.coverage[0].percent == 100.0 and report.coverage[0].total_lines == report.coverage[0].covered_lines


async def test_failing_tests_fail_validation_with_pytest_output(dirs: ws.TaskDirs) -> None:
    """One failing test: not ok, counted, with the assertion in the output."""
    report = await _validate(dirs, FAILING_TEST)
    assert not report.ok
    assert report.problem == "1 of 3 tests failed"
    assert (report.passed, report.failed) == (2, 1)
    assert "assert 6 == 7" in report.output


async def test_a_test_file_that_does_not_compile_is_reported_without_running_pytest(dirs: ws.TaskDirs) -> None:
    """A syntax error is named with its line; nothing is collected."""
    report = await _validate(dirs, "def test_x(:\n    pass\n")
    assert not report.ok and "does not compile" in report.problem and "line 1" in report.problem
    assert report.collected == 0


async def test_coverage_below_the_goal_lists_the_missing_lines(dirs: ws.TaskDirs) -> None:
    """Passing tests that miss lines are ok but not at goal; the gap names the lines."""
    report = await _validate(dirs, PARTIAL_TEST)
    assert report.ok and not report.goal_met
    assert report.coverage[0].percent < 80
    assert (
        report.gaps
        and report.gaps[0].startswith(f"{TARGET}: ")
        and report.gaps[0].endswith("lines not covered: 8, 13-15")
    )


async def test_a_hanging_test_run_is_stopped_at_the_time_limit(dirs: ws.TaskDirs) -> None:
    """pytest is killed after the time limit and the report says so."""
    report = await _validate(dirs, "import time\n\n\ndef test_hangs():\n    time.sleep(30)\n", timeout_s=2.0)
    assert not report.ok and "did not finish within 2 s" in report.problem


async def test_no_test_files_is_a_validation_problem(dirs: ws.TaskDirs) -> None:
    """Nothing to run is not a pass."""
    report = await _validate(dirs, None)
    assert not report.ok and report.problem == "no test files were written"


async def test_a_module_without_tests_is_reported_as_not_collected(dirs: ws.TaskDirs) -> None:
    """A test file with no tests: pytest's 'no tests collected' is a failure."""
    report = await _validate(dirs, "X = 1\n")
    assert not report.ok and report.problem == "no tests were collected"


def test_test_files_are_the_added_or_changed_test_modules() -> None:
    """test_*.py anywhere and modules in the test dir count; conftest, deletions and other files do not."""
    changes = [
        ws.Change("A", "tests/test_a.py"),
        ws.Change("M", "tests/helpers_check.py"),
        ws.Change("A", "tests/conftest.py"),
        ws.Change("D", "tests/test_old.py"),
        ws.Change("A", "pkg/module_test.py"),
        ws.Change("M", "pkg/module.py"),
        ws.Change("A", "tests/data.json"),
    ]
    assert select_test_files(changes, "tests") == ["pkg/module_test.py", "tests/helpers_check.py", "tests/test_a.py"]


# the project's own test sets what the appended test reads: it passes in the file, not on its own
LEANS_ON_THE_PROJECT_TEST = """from shapes.geometry import area

SEEN = []


def test_project_records_an_area():
    SEEN.append(area(2, 3))


def test_appended_reads_the_recorded_area():
    assert SEEN == [6]
"""


async def test_kept_tests_that_pass_only_after_the_projects_tests_of_their_file_fail_validation(
    dirs: ws.TaskDirs,
) -> None:
    """The whole file passes, the kept test by its node id does not: the round fails, saying the kept tests failed
    run by themselves, with their own counts."""
    (dirs.workspace / TEST_FILE).write_text(LEANS_ON_THE_PROJECT_TEST)
    report = await validate(
        dirs=dirs, python=Path(sys.executable), tree=dirs.workspace, env=ws.agent_env(dirs), test_files=[TEST_FILE],
        targets=[TARGET], goal_pct=80.0, timeout_s=60.0, max_output_chars=10_000, sandbox=task_sandbox(),
        selection=[f"{TEST_FILE}::test_appended_reads_the_recorded_area"],
    )  # fmt: skip
    assert not report.ok
    assert report.problem == "the kept tests run by themselves: 1 of 1 tests failed"
    assert (report.collected, report.passed, report.failed) == (1, 0, 1)
    assert "assert [] == [6]" in report.output
