"""Per-test filtering, coverage delta and mutation score end to end, on a real uv-built project environment."""

from __future__ import annotations

from collections.abc import Callable

from services.assurance import generated_source
from services.assurance.coverage_delta import deltas, final_coverage, gaps
from services.assurance.filters import Verdict, judge_tests
from services.assurance.mutation import mutation_score
from services.assurance.settings import AssuranceSettings
from services.assurance.testbed import TestBed
from tests.assurance.conftest import generated

GEN = "tests/test_generated.py"
TARGET = "grading.py"
GOOD = f"{GEN}::test_boundary_decides_pass_or_fail"


async def test_only_the_good_test_survives_the_filters_with_the_expected_reasons(
    make_bed: Callable[..., TestBed],
) -> None:
    """A failing, a flaky, a coverage-free and an assertion-free test are cut; the boundary test is kept."""
    bed = make_bed("grading", {GEN: generated("generated_grading_tests.py")})
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=3), seed=7)

    verdicts = {j.test.rsplit("::", 1)[1]: (j.verdict, j.reason) for j in report.judgements}
    assert verdicts["test_boundary_decides_pass_or_fail"][0] == Verdict.KEPT
    assert verdicts["test_boundary_decides_pass_or_fail"][1] == "adds 1 line(s) and 1 branch(es) of coverage"
    assert verdicts["test_wrong_expectation"][0] == Verdict.FAILED
    assert "assert 'fail' == 'pass'" in verdicts["test_wrong_expectation"][1]
    assert verdicts["test_passes_every_other_run"] == (
        Verdict.FLAKY,
        "flaky: passed 2 of 4 runs (re-runs in random order, seed 7)",
    )
    assert verdicts["test_another_passing_score"] == (
        Verdict.USELESS,
        "adds no line or branch coverage over the existing tests and the tests kept before it",
    )
    assert verdicts["test_calls_without_checking"][0] == Verdict.USELESS
    assert verdicts["test_calls_without_checking"][1].startswith("checks nothing")
    assert report.counts == {"kept": 1, "failed": 1, "flaky": 1, "useless": 2}

    remaining = generated_source.find_tests((bed.root / GEN).read_text())
    assert [f.qualname for f in remaining] == ["test_boundary_decides_pass_or_fail"]
    assert report.changed_files == [GEN]

    baseline = report.baseline[TARGET]
    assert (baseline.line_pct, baseline.branch_pct) == (75.0, 50.0)  # the existing test misses `return "fail"`
    final = await final_coverage(bed, [GEN], [TARGET], report.baseline)
    assert (final[TARGET].line_pct, final[TARGET].branch_pct) == (100.0, 100.0)
    assert gaps(deltas(report.baseline, final, [TARGET]), goal_pct=80) == []


async def test_the_kept_suite_kills_every_mutant_but_the_one_the_boundary_cannot_see(
    make_bed: Callable[..., TestBed],
) -> None:
    """Mutation score of the kept boundary test equals the hand-computed 7 of 8 for grading.py.

    cosmic-ray's core operators make 8 mutants of ``if score >= 50`` (>, <=, <, ==, !=, `not`, 49, 51).
    grade(50) == "pass" and grade(49) == "fail" kill all but ``score == 50``: 50 == 50 passes and 49 == 50 fails.
    """
    bed = make_bed("grading", {GEN: generated("generated_grading_tests.py")})
    report = await mutation_score(bed, [GOOD], [TARGET], budget_s=120)

    (score,) = report.scores
    assert (score.killed, score.total, score.generated) == (7, 8, 8)
    assert score.score_pct == 87.5
    assert [(m.line, m.operator, m.original.strip(), m.mutated.strip()) for m in score.survivors] == [
        (2, "ReplaceComparisonOperator_GtE_Eq", "if score >= 50:", "if score == 50:")
    ]
    assert not report.sampled and report.note == ""
    assert "grading.py:2" in report.feedback() and "`if score == 50:`" in report.feedback()


async def test_a_test_that_checks_nothing_survives_every_mutant(make_bed: Callable[..., TestBed]) -> None:
    """The assertion-free test covers the code yet kills none of the 8 mutants."""
    bed = make_bed("grading", {GEN: generated("generated_grading_tests.py")})
    report = await mutation_score(bed, [f"{GEN}::test_calls_without_checking"], [TARGET], budget_s=120)

    (score,) = report.scores
    assert (score.killed, score.total) == (0, 8)
    assert len(score.survivors) == 8
