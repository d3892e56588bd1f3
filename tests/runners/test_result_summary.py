"""The result's one-paragraph summary: what it says about coverage must not contradict the goal it reports."""

from __future__ import annotations

from handoff.runners.openhands.outputs import Outputs, summarize
from handoff.runners.openhands.validation import ValidationReport
from handoff.schemas.events import TargetCoverage


def test_the_summary_says_the_kept_files_coverage_is_theirs_alone_and_the_goal_counts_the_existing_tests() -> None:
    """python-dateutil's _common.py: the kept file alone covers 44 %, with the project's tests 100 %; the summary
    read 'Coverage: 44 % (goal 80 %, met)'."""
    report = ValidationReport(ok=True, test_files=["tests/test__common.py"], collected=1, passed=1,
                              coverage=[TargetCoverage(target="src/dateutil/_common.py", percent=44.0)])  # fmt: skip
    text = summarize(report, Outputs(), rounds_used=1, rounds_total=3, goal_pct=80.0)
    assert "Line coverage by the kept tests alone: src/dateutil/_common.py 44 %." in text
    assert "Coverage goal 80 % (line+branch, with the project's existing tests): met." in text
    assert "(goal 80 %, met)" not in text


def test_the_summary_names_the_project_tests_in_its_figures_when_an_extended_file_ran_whole() -> None:
    """When the kept tests of an extended project file could not be named, validation runs the file whole: the
    counts and the coverage then include the project's own tests there, and the summary says so."""
    report = ValidationReport(ok=True, test_files=["tests/test_keys.py"], collected=9, passed=9,
                              coverage=[TargetCoverage(target="src/cachetools/keys.py", percent=100.0)],
                              run_whole=["tests/test_keys.py"])  # fmt: skip
    text = summarize(report, Outputs(), rounds_used=1, rounds_total=1, goal_pct=80.0)
    whose = "the kept tests and the project's own tests of tests/test_keys.py"
    assert f"9 tests collected, 9 passed, 0 failed ({whose})." in text
    assert f"Line coverage by {whose}: src/cachetools/keys.py 100 %." in text
    assert "kept tests alone" not in text


def test_the_summary_says_the_kept_tests_coverage_leaves_out_tests_the_mutation_rescue_re_admitted() -> None:
    """Validation measured 60 % with the 3 kept tests; the rescue then re-admitted 2 tests for the mutants they kill,
    which the counts include (5) and the coverage figure does not: the summary says so next to the figure."""
    report = ValidationReport(ok=True, test_files=["tests/test_m.py"], collected=5, passed=5,
                              coverage=[TargetCoverage(target="m.py", percent=60.0)])  # fmt: skip
    text = summarize(report, Outputs(), rounds_used=1, rounds_total=1, goal_pct=80.0, rescued=2)
    assert "5 tests collected, 5 passed, 0 failed." in text
    rescued = ", before the 2 test(s) re-admitted for the mutants they kill"
    assert f"Line coverage by the kept tests alone{rescued}: m.py 60 %." in text
    plain = summarize(report, Outputs(), rounds_used=1, rounds_total=1, goal_pct=80.0)
    assert "Line coverage by the kept tests alone: m.py 60 %." in plain and "re-admitted" not in plain
