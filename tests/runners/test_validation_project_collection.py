"""The runner's validation of kept tests in a project whose own collection is broken by its conftest (docopt 0.6.2:
a node built for a data file the way pytest >= 6 refuses fails the root folder for every pytest run)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.validation import validate
from tests.runners.conftest import FAILING_TEST, PASSING_TEST, SAMPLE, TARGET, TEST_FILE, task_sandbox
from tests.support.broken_collection import BROKEN_CONFTEST


async def _validate_beside_a_broken_conftest(tmp_path: Path, test_text: str, conftest: str = BROKEN_CONFTEST):
    dirs = ws.TaskDirs.create(tmp_path, "v", 1)
    shutil.copytree(SAMPLE, dirs.workspace)
    (dirs.workspace / "conftest.py").write_text(conftest)
    (dirs.workspace / "testcases.cases").write_text("usage: prog\n")
    (dirs.workspace / TEST_FILE).write_text(test_text)
    return await validate(dirs=dirs, python=Path(sys.executable), tree=dirs.workspace, env=ws.agent_env(dirs),
                          test_files=[TEST_FILE], targets=[TARGET], goal_pct=80.0, timeout_s=60.0,
                          max_output_chars=10_000, sandbox=task_sandbox())  # fmt: skip


async def test_kept_tests_validate_although_the_projects_conftest_fails_the_root_folder(tmp_path: Path) -> None:
    """The three passing tests are run and counted; the broken folder's other files are left out of their run."""
    report = await _validate_beside_a_broken_conftest(tmp_path, PASSING_TEST)
    assert report.ok and report.goal_met, report.problem
    assert (report.collected, report.passed, report.failed) == (3, 3, 0)
    assert report.coverage[0].percent == 100.0


async def test_a_failing_kept_test_still_fails_validation_beside_a_broken_conftest(tmp_path: Path) -> None:
    report = await _validate_beside_a_broken_conftest(tmp_path, FAILING_TEST)
    assert not report.ok and report.problem == "1 of 3 tests failed"
    assert "assert 6 == 7" in report.output


async def test_a_conftest_that_fails_the_kept_file_itself_fails_validation_with_pytests_words(tmp_path: Path) -> None:
    """Leaving the other files out does not help when the conftest raises on the kept file: the first run's
    output, naming the conftest's error, is reported."""
    raising = BROKEN_CONFTEST.replace('file_path.suffix == ".cases"', 'file_path.name.startswith("test_")')
    report = await _validate_beside_a_broken_conftest(tmp_path, PASSING_TEST, raising)
    assert not report.ok and report.passed == 0
    assert "Direct construction of conftest.CasesFile" in report.output
