"""The baseline says when it is not the project's suite: pytest could not collect or run the project's own tests
(real pytest and coverage runs in a uv-built project environment)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from handoff.assurance.coverage_delta import existing_coverage
from handoff.assurance.existing_suite import failures, modules_like_tests, uncollected_suites
from handoff.assurance.testbed import PytestRun, TestBed
from tests.support.broken_collection import BROKEN_CONFTEST

TARGET = "grading.py"
GEN = "tests/test_generated.py"
UNITTEST_SUITE = """import unittest

from grading import grade


class GradeTests(unittest.TestCase):
    def test_a_high_score_passes(self):
        self.assertEqual(grade(90), "pass")
"""
GENERATED_TEST = "from grading import grade\n\n\ndef test_low():\n    assert grade(10) == 'fail'\n"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_a_project_suite_that_runs_leaves_no_baseline_problem(make_bed: Callable[..., TestBed]) -> None:
    """The grading project's own test runs: its coverage is the baseline and nothing is reported."""
    bed = make_bed("grading", {GEN: GENERATED_TEST})
    existing = await existing_coverage(bed, [GEN], [TARGET])

    assert existing.problem == ""
    assert (existing.coverage[TARGET].line_pct, existing.coverage[TARGET].branch_pct) == (75.0, 50.0)


FAILING_TESTS = """import pytest

from grading import grade


@pytest.fixture
def broken():
    raise RuntimeError("no database")


def test_fifty_fails(): assert grade(50) == "fail"
def test_ten_passes(): assert grade(10) == "pass"
def test_needs_the_database(broken): assert grade(90) == "pass"
@pytest.mark.parametrize("score", [60, 70])
def test_high_fails(score): assert grade(score) == "fail"
@pytest.mark.xfail(strict=True)
def test_expected_to_fail(): assert grade(0) == "pass"
"""


async def test_the_project_tests_that_fail_in_the_baseline_are_counted_and_the_first_named_with_pytest_reason(
    make_bed: Callable[..., TestBed],
) -> None:
    """Of the project's 7 tests (the parametrized one counts twice) 5 fail, one of them in its fixture; an xfail test
    does not count as failing. The baseline is still the suite (no problem) and its sentence names the first three
    with pytest's one-line reason."""
    bed = make_bed("grading", {"tests/test_failing.py": FAILING_TESTS})
    existing = await existing_coverage(bed, [], [TARGET])

    assert existing.problem == ""
    assert existing.ran == 7
    assert list(existing.failed) == [f"tests/test_failing.py::{name}" for name in (
        "test_fifty_fails", "test_ten_passes", "test_needs_the_database", "test_high_fails[60]", "test_high_fails[70]"
    )]  # fmt: skip
    assert existing.failed["tests/test_failing.py::test_needs_the_database"] == (
        "error outside the test: RuntimeError: no database"
    )
    assert failures(existing.failed, existing.ran) == (
        "5 of the project's 7 tests failed in the baseline run: tests/test_failing.py::test_fifty_fails "
        "(AssertionError: assert 'pass' == 'fail'); tests/test_failing.py::test_ten_passes "
        "(AssertionError: assert 'fail' == 'pass'); "
        "tests/test_failing.py::test_needs_the_database (error outside the test: RuntimeError: no database) and 2 more "
        "(it counts what they ran up to the failure)"
    )


def test_a_baseline_without_failures_says_nothing() -> None:
    assert failures({}, 12) == ""


async def test_a_test_module_that_exits_while_imported_is_reported_with_the_line_that_stopped_pytest(
    make_bed: Callable[..., TestBed],
) -> None:
    """A `test/` module ending in `unittest.main()` stops pytest (INTERNALERROR, SystemExit): the problem names it."""
    bed = make_bed("ordering")
    existing = await existing_coverage(bed, [], ["ordering.py"])

    assert existing.problem.startswith("the project's existing tests could not be collected or run: ")
    assert "pytest stopped with an internal error: SystemExit: 2, raised at test/test_ordering.py:15" in (
        existing.problem
    )
    assert "(unittest.main())" in existing.problem
    assert existing.problem.endswith("the coverage baseline is not the project's suite (only what ran before pytest "
                                     "stopped)")  # fmt: skip
    assert existing.coverage["ordering.py"].line_pct == 25.0  # the `def` line, run on import: no test ran


async def test_a_test_module_that_does_not_import_is_named_and_the_other_tests_still_count(
    make_bed: Callable[..., TestBed],
) -> None:
    """One module with an import error no longer stops the baseline run; the problem names it and pytest's error."""
    broken = "from grading import no_such_function\n\n\ndef test_x():\n    assert no_such_function()\n"
    bed = make_bed("grading", {"tests/test_broken.py": broken, GEN: GENERATED_TEST})
    existing = await existing_coverage(bed, [GEN], [TARGET])

    assert existing.problem.startswith(
        "some of the project's existing tests could not be collected or run: 1 test module(s) could not be "
        "collected: tests/test_broken.py: "
    )
    assert "ImportError: cannot import name 'no_such_function' from 'grading'" in existing.problem
    assert existing.problem.endswith("the coverage baseline counts only the tests that ran")
    assert (existing.coverage[TARGET].line_pct, existing.coverage[TARGET].branch_pct) == (75.0, 50.0)


async def test_a_project_whose_only_test_module_does_not_import_has_no_suite_in_its_baseline(
    make_bed: Callable[..., TestBed],
) -> None:
    """Every module failing to collect: the problem says the suite did not run, with the module's error."""
    broken = "import not_installed_anywhere\n\n\ndef test_x():\n    assert not_installed_anywhere\n"
    bed = make_bed("grading", {"tests/test_existing.py": broken})
    existing = await existing_coverage(bed, [], [TARGET])

    assert existing.problem.startswith("the project's existing tests could not be collected or run: 1 test module(s) "
                                       "could not be collected: tests/test_existing.py: ")  # fmt: skip
    assert "ModuleNotFoundError: No module named 'not_installed_anywhere'" in existing.problem
    assert existing.coverage[TARGET].line_pct == 0.0


async def test_a_conftest_that_does_not_import_is_reported_in_pytest_words(make_bed: Callable[..., TestBed]) -> None:
    """A broken conftest ends pytest before its session (usage error): its first error lines are the reason."""
    bed = make_bed("grading", {"tests/conftest.py": "import not_installed_anywhere\n"})
    existing = await existing_coverage(bed, [], [TARGET])

    assert existing.problem.startswith("the project's existing tests could not be collected or run: pytest refused "
                                       "its command line or configuration: ")  # fmt: skip
    assert "ImportError while loading conftest" in existing.problem


async def test_test_files_that_pytest_deselects_entirely_are_reported_as_not_run(
    make_bed: Callable[..., TestBed],
) -> None:
    """A project whose pytest options select no test (exit 5) while it has test files: the problem lists them."""
    bed = make_bed("grading", {"pytest.ini": "[pytest]\naddopts = -m integration\n"})
    existing = await existing_coverage(bed, [], [TARGET])

    assert existing.problem == (
        "the project's existing tests could not be collected or run: pytest collected no test although the project "
        "has test files (tests/test_existing.py); the coverage baseline is not the project's suite (none of its "
        "tests ran: at most what importing them ran)"
    )


async def test_a_unittest_module_pytest_does_not_collect_by_default_is_run_by_naming_it(
    make_bed: Callable[..., TestBed],
) -> None:
    """roman 4.2: its suite is src/tests.py (unittest, run by zope-testrunner); pytest's default collection finds
    nothing (exit 5). Named on pytest's command line it is collected: its tests are the baseline, and there is no
    problem to report."""
    bed = make_bed("grading", {"src/tests.py": UNITTEST_SUITE})
    (bed.root / "tests" / "test_existing.py").unlink()
    existing = await existing_coverage(bed, [], [TARGET])

    assert existing.problem == ""
    assert (existing.coverage[TARGET].line_pct, existing.coverage[TARGET].branch_pct) == (75.0, 50.0)


async def test_a_test_module_the_default_collection_misses_adds_its_coverage_to_the_tests_it_collects(
    make_bed: Callable[..., TestBed],
) -> None:
    """pytimeparse 1.1.10 names its modules tests/testtimeparse.py: beside tests pytest collects, such a module is run
    by naming it, and what it covers joins the baseline."""
    low = UNITTEST_SUITE.replace("test_a_high_score_passes", "test_a_low_score_fails").replace(
        'grade(90), "pass"', 'grade(10), "fail"'
    )
    bed = make_bed("grading", {"pkg/tests/testgrading.py": low, GEN: GENERATED_TEST})
    existing = await existing_coverage(bed, [GEN], [TARGET])

    assert existing.problem == ""
    assert (existing.coverage[TARGET].line_pct, existing.coverage[TARGET].branch_pct) == (100.0, 100.0)


async def test_a_module_named_like_tests_that_gives_no_test_when_named_is_reported_as_collecting_nothing(
    make_bed: Callable[..., TestBed],
) -> None:
    """A tests.py whose only test class has no test: nothing was collected, so the sentence says no test ran (not
    that pytest stopped)."""
    bed = make_bed("grading", {"src/tests.py": "class TestLater:\n    pass\n"})
    (bed.root / "tests" / "test_existing.py").unlink()
    existing = await existing_coverage(bed, [], [TARGET])

    assert existing.problem == (
        "the project's existing tests could not be collected or run: pytest collected no test, but src/tests.py "
        "looks like one (not matched by pytest's python_files, by default test_*.py and *_test.py), and named on its "
        "command line they give no test either; the coverage baseline is not the project's suite (none of its tests "
        "ran: at most what importing them ran)"
    )


async def test_a_module_named_like_tests_that_does_not_import_when_named_is_reported_with_its_error(
    make_bed: Callable[..., TestBed],
) -> None:
    """The named module's import error is pytest's reason, and the tests the default collection ran still count."""
    broken = "import not_installed_anywhere\nimport unittest\n\n\nclass T(unittest.TestCase):\n    pass\n"
    bed = make_bed("grading", {"src/tests.py": broken})
    existing = await existing_coverage(bed, [], [TARGET])

    assert existing.problem.startswith(
        "some of the project's existing tests could not be collected or run: 1 test module(s) could not be "
        "collected: src/tests.py: "
    )
    assert "No module named 'not_installed_anywhere'" in existing.problem
    assert (existing.coverage[TARGET].line_pct, existing.coverage[TARGET].branch_pct) == (75.0, 50.0)


def test_modules_named_or_written_like_tests_are_found_and_plain_modules_are_not(tmp_path: Path) -> None:
    """tests.py, test.py, *_tests.py, modules in a test/ folder and modules defining a TestCase subclass look like
    tests; a plain module, __init__.py, conftest.py, setup.py and an environment's files do not."""
    files = {
        "src/tests.py": "", "test.py": "", "pkg/codec_tests.py": "", "test/helpers.py": "",
        "pkg/checks.py": "import unittest\n\n\nclass CodecCheck(unittest.TestCase):\n    pass\n",
        "pkg/codec.py": "class Codec(object):\n    pass\n", "pkg/__init__.py": "", "conftest.py": "", "setup.py": "",
        "venv/lib/tests.py": "",
    }  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert sorted(modules_like_tests(tmp_path, [])) == [
        "pkg/checks.py", "pkg/codec_tests.py", "src/tests.py", "test.py", "test/helpers.py"
    ]  # fmt: skip


def test_only_modules_named_like_tests_that_define_tests_are_run_by_naming_them(tmp_path: Path) -> None:
    """testtimeparse.py and tests.py with a TestCase, a Test class or a test function are run; a helper of a test
    folder, a module without tests and one the default collection already ran are not."""
    case = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_x(self):\n        pass\n"
    files = {
        "pkg/tests/testtimeparse.py": case, "src/tests.py": "class TestA:\n    def test_x(self):\n        pass\n",
        "pkg/codec_tests.py": "def test_x():\n    pass\n", "tests/helpers.py": case, "test.py": "print('hi')\n",
        "pkg/tests/testdone.py": case,
    }  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    collected = PytestRun(0, "", {"pkg/tests/testdone.py::T::test_x": "passed"}, {})

    assert uncollected_suites(tmp_path, [], collected) == ["pkg/codec_tests.py", "pkg/tests/testtimeparse.py",
                                                           "src/tests.py"]  # fmt: skip


async def test_a_project_without_test_files_has_an_empty_baseline_and_no_problem(
    make_bed: Callable[..., TestBed],
) -> None:
    """No test files at all (pytest collects nothing): a truly empty baseline, not a problem."""
    bed = make_bed("grading")
    (bed.root / "tests" / "test_existing.py").unlink()
    existing = await existing_coverage(bed, [], [TARGET])

    assert existing.problem == ""
    assert existing.coverage[TARGET].line_pct == 0.0


async def test_a_collection_error_pytest_words_in_two_lines_is_named_by_its_first_line(
    make_bed: Callable[..., TestBed],
) -> None:
    """docopt's conftest builds its collector directly, which pytest refuses with a two-line message whose second
    line only points at pytest's docs: the reason given is the first line, naming the collector and the fix."""
    bed = make_bed("grading", {"tests/conftest.py": BROKEN_CONFTEST, "tests/grading.cases": "90 pass\n"})
    existing = await existing_coverage(bed, [], [TARGET])

    assert "Direct construction of conftest.CasesFile has been deprecated" in existing.problem, existing.problem
    assert "docs.pytest.org" not in existing.problem, existing.problem
