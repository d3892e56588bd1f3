"""A project whose own pytest collection is broken (docopt 0.6.2: its conftest builds a node for a data file the way
pytest >= 6 refuses, failing the collection of the root folder) still gets its generated tests judged, and its
existing tests in the baseline; a generated file's own collection error is named, not pytest's summary line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handoff.assurance import existing_suite
from handoff.assurance.coverage_delta import final_coverage
from handoff.assurance.filters import Verdict, judge_tests
from handoff.assurance.mutation import mutation_score
from handoff.assurance.settings import AssuranceSettings
from handoff.assurance.testbed import TestBed
from tests.support.broken_collection import BROKEN_CONFTEST

GEN = "tests/test_generated.py"
TARGET = "grading.py"

GENERATED = """from grading import grade


def test_a_low_score_fails():
    assert grade(10) == "fail"


def test_a_wrong_expectation():
    assert grade(10) == "pass"
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]  # real pytest and coverage runs


def broken_project(make_bed: Callable[..., TestBed], generated: str) -> TestBed:
    return make_bed("grading", {"conftest.py": BROKEN_CONFTEST, "testcases.cases": "usage: prog\n", GEN: generated})


async def test_generated_tests_are_judged_although_the_projects_own_collection_fails_on_a_data_file(
    make_bed: Callable[..., TestBed],
) -> None:
    """The conftest fails the root folder for every pytest run; the generated tests are judged on their own, and the
    baseline counts the project's test module named alone (the existing test misses `return "fail"`)."""
    bed = broken_project(make_bed, GENERATED)
    plain = await bed.run([str(bed.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", GEN])
    assert plain[0] == 4 and "found no collectors" in plain[1]  # the project's breakage, as a user meets it

    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test.rsplit("::", 1)[1]: (j.verdict, j.reason) for j in report.judgements}
    assert verdicts["test_a_low_score_fails"] == (Verdict.KEPT, "adds 1 line(s) and 1 branch(es) of coverage")
    assert verdicts["test_a_wrong_expectation"][0] == Verdict.FAILED
    assert "assert 'fail' == 'pass'" in verdicts["test_a_wrong_expectation"][1]
    assert existing_suite.is_partial(report.baseline_problem)
    assert "could not be collected: .: " in report.baseline_problem
    assert (report.baseline[TARGET].line_pct, report.baseline[TARGET].branch_pct) == (75.0, 50.0)

    final = await final_coverage(bed, [GEN], [TARGET], report.baseline)
    assert (final[TARGET].line_pct, final[TARGET].branch_pct) == (100.0, 100.0)


async def test_a_generated_file_that_does_not_import_is_dropped_with_its_own_error_beside_the_projects(
    make_bed: Callable[..., TestBed],
) -> None:
    """With the project's collection broken too, the reason is the generated file's missing module."""
    bed = broken_project(make_bed, "import no_such_module\n\n\ndef test_y():\n    assert no_such_module.grade\n")

    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    ((test, verdict, reason),) = [(j.test, j.verdict, j.reason) for j in report.judgements]
    assert (test, verdict) == (f"{GEN}::test_y", Verdict.FAILED)
    assert reason.startswith("does not collect: ") and "No module named 'no_such_module'" in reason


async def test_the_projects_tests_in_the_file_the_generator_extended_make_the_baseline_partial_not_empty(
    make_bed: Callable[..., TestBed],
) -> None:
    """docopt's tests are appended to its own test_docopt.py: the default collection (the folder fails) runs none of
    the project's tests, the extended file's own test runs apart; the baseline counts it and says only some ran."""
    project_tests = "tests/test_existing.py"
    bed = broken_project(make_bed, "")
    extended = (bed.root / project_tests).read_text() + "\n\n" + GENERATED.split("\n", 1)[1]
    (bed.root / project_tests).write_text(extended)

    report = await judge_tests(bed, [project_tests], [TARGET], settings=AssuranceSettings(reliability_runs=1),
                               existing=[f"{project_tests}::test_a_high_score_passes"])  # fmt: skip

    assert existing_suite.is_partial(report.baseline_problem), report.baseline_problem
    assert "could not be collected: .: " in report.baseline_problem
    assert (report.baseline[TARGET].line_pct, report.baseline[TARGET].branch_pct) == (75.0, 50.0)
    verdicts = {j.test.rsplit("::", 1)[1]: j.verdict for j in report.judgements}
    assert verdicts == {"test_a_low_score_fails": Verdict.KEPT, "test_a_wrong_expectation": Verdict.FAILED}


async def test_mutants_are_run_against_the_kept_tests_not_killed_by_the_projects_collection_error(
    make_bed: Callable[..., TestBed],
) -> None:
    """grade(10) == "fail" alone: of cosmic-ray's 8 mutants of `if score >= 50`, it kills those that make 10 pass
    (`<=`, `<`, `!=`, `not`) and misses `>`, `==`, 49 and 51; a test command that stops at the project's
    collection error would count all 8 killed."""
    bed = broken_project(make_bed, GENERATED.split("\n\n\ndef test_a_wrong")[0] + "\n")

    report = await mutation_score(bed, [f"{GEN}::test_a_low_score_fails"], [TARGET], budget_s=120)

    (score,) = report.scores
    assert (score.killed, score.total) == (4, 8)
    assert sorted(m.mutated.strip() for m in score.survivors) == [
        "if score == 50:", "if score > 50:", "if score >= 49:", "if score >= 51:"
    ]  # fmt: skip


async def test_a_configuration_pytest_refuses_is_named_by_pytests_own_error_line_in_the_baseline_and_the_verdicts(
    make_bed: Callable[..., TestBed],
) -> None:
    """semver 3.0.2's setup.cfg adds ``--cov`` options pytest does not know without pytest-cov: pytest's first line
    is its usage, the line that says what is wrong is ``error: unrecognized arguments: ...``; both the baseline and
    each dropped test's reason carry that line."""
    bed = make_bed("grading", {"pytest.ini": "[pytest]\naddopts = --no-such-flag=grading\n", GEN: GENERATED})

    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    assert "error: unrecognized arguments: --no-such-flag=grading" in report.baseline_problem, report.baseline_problem
    reasons = [j.reason for j in report.judgements]
    assert reasons and all("error: unrecognized arguments: --no-such-flag=grading" in r for r in reasons), reasons
