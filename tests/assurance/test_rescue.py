"""Mutation rescue end to end: tests dropped for adding no coverage run against the kept suite's surviving
mutants (real cosmic-ray, real pytest, on a uv-built project environment); only a test that kills one returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from handoff.assurance.filters import NO_NEW_COVERAGE, Verdict, adds_no_coverage, judge_tests
from handoff.assurance.mutation import Mutant, MutationReport, TargetScore, mutation_score
from handoff.assurance.rescue import Rescued, RescueReport, apply_diff, rescored, rescue_tests
from handoff.assurance.settings import AssuranceSettings
from handoff.assurance.testbed import TestBed

GEN = "tests/test_generated.py"
TARGET = "grading.py"
GRADING = Path(__file__).parent / "projects"
# the boundary test covers both branches but not `score >= 50` -> `score == 50`; 70 and 80 see that mutant
# (the earlier one is re-admitted, the later adds nothing more); 49 sees nothing the boundary test does not
TESTS = """from grading import grade


def test_boundary_decides_pass_or_fail():
    assert grade(50) == "pass"
    assert grade(49) == "fail"


def test_another_passing_score():
    assert grade(70) == "pass"


def test_the_boundary_again():
    assert grade(49) == "fail"


def test_a_high_score_passes_too():
    assert grade(80) == "pass"
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]  # real pytest, coverage and cosmic-ray runs


async def _judged_and_scored(bed: TestBed) -> tuple[list[str], MutationReport]:
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))
    kept = [j.test for j in report.judgements if j.verdict == Verdict.KEPT]
    candidates = [j.test for j in report.judgements if j.verdict == Verdict.USELESS and j.reason == NO_NEW_COVERAGE]
    assert kept == [f"{GEN}::test_boundary_decides_pass_or_fail"]
    return candidates, await mutation_score(bed, kept, [TARGET], budget_s=120)


async def test_a_coverage_free_test_that_kills_a_surviving_mutant_is_re_admitted_and_the_score_rises(
    make_bed: Callable[..., TestBed],
) -> None:
    """grade(70) kills the `>=` -> `==` mutant the boundary test misses, and the project has no test that kills it:
    re-admitted with that reason; 8/8."""
    bed = make_bed("grading", {GEN: TESTS})
    (bed.root / "tests" / "test_existing.py").write_text(
        "from grading import grade\n\n\ndef test_a_low_score_fails():\n    assert grade(10) == 'fail'\n"
    )
    candidates, report = await _judged_and_scored(bed)
    assert len(candidates) == 3
    (score,) = report.scores
    assert (score.killed, score.total) == (7, 8)

    found = await rescue_tests(bed, report, candidates, {GEN: TESTS}, budget_s=120, generated_files=[GEN])

    assert [r.test for r in found.rescued] == [f"{GEN}::test_another_passing_score"]
    assert (
        found.rescued[0].reason == "kills a mutant the other tests miss: grading.py:2 ReplaceComparisonOperator_GtE_Eq"
    )
    assert found.tried == 1
    (after,) = rescored(report, found).scores
    assert (after.killed, after.total, after.score_pct, after.survivors) == (8, 8, 100.0, [])
    assert "re-admitted" in rescored(report, found).note
    assert "test_another_passing_score" not in (bed.root / GEN).read_text()  # the tree itself is not changed


async def test_a_dropped_test_that_kills_only_what_the_projects_own_tests_kill_stays_dropped(
    make_bed: Callable[..., TestBed],
) -> None:
    """The project's grade(90) test kills the `>=` -> `==` mutant too (the kept tests alone miss it): grade(70)
    would hand over nothing the project's suite lacks, so it is not re-admitted, and the note says why."""
    bed = make_bed("grading", {GEN: TESTS})
    candidates, report = await _judged_and_scored(bed)

    found = await rescue_tests(bed, report, candidates, {GEN: TESTS}, budget_s=120, generated_files=[GEN])

    assert found.rescued == []
    assert found.tried == 1
    assert "1 mutant(s) a dropped test kills are killed by the project's own tests too" in found.note
    assert rescored(report, found) == report
    (survivor,) = report.scores[0].survivors  # the kill is kept, should the test be re-admitted for another mutant
    assert found.shared[f"{GEN}::test_another_passing_score"] == [survivor]


# the project's own test kills the `>=` -> `==` mutant, but one run of it takes longer than the rescue budget leaves
SLOW_PROJECT_TEST = (
    "import time\n\nfrom grading import grade\n\n\ndef test_a_high_score_passes_after_a_while():\n"
    "    time.sleep(8)\n    assert grade(90) == 'pass'\n"
)


async def test_a_dropped_test_is_not_re_admitted_for_a_mutant_the_budget_left_unchecked_against_the_projects_tests(
    make_bed: Callable[..., TestBed],
) -> None:
    """grade(70) kills the `>=` -> `==` mutant, and so does the project's own grade(90) test, which takes 8 s: within
    a 10 s budget the candidates run against the mutant but the project's suite cannot be run against it as well, so
    nothing says grade(70) adds a kill; it stays dropped, the score stays, and the note says what was not checked."""
    bed = make_bed("grading", {GEN: TESTS, "tests/test_existing.py": SLOW_PROJECT_TEST})
    candidates, report = await _judged_and_scored(bed)

    found = await rescue_tests(bed, report, candidates, {GEN: TESTS}, budget_s=10, generated_files=[GEN])

    assert found.rescued == []
    assert found.tried == 1
    assert "1 mutant(s) a dropped test kills were not run against the project's own tests" in found.note
    assert "no test is re-admitted for them" in found.note
    assert rescored(report, found) == report


async def test_a_project_suite_slower_than_the_command_timeout_re_admits_nothing_and_the_note_says_why(
    make_bed: Callable[..., TestBed],
) -> None:
    """With a 5 s bound on one pytest command (HANDOFF_PYTEST_TIMEOUT_S) the project's 8 s suite never finishes,
    whatever the budget: grade(70)'s kill cannot be checked against it, so it stays dropped and the rescue stops."""
    bed = make_bed("grading", {GEN: TESTS, "tests/test_existing.py": SLOW_PROJECT_TEST})
    candidates, report = await _judged_and_scored(bed)

    found = await rescue_tests(replace(bed, timeout_s=5), report, candidates, {GEN: TESTS}, budget_s=120,
                               generated_files=[GEN])  # fmt: skip

    assert found.rescued == []
    assert found.note == (
        "the project's own tests did not finish within 5 s: the rescue stopped after 1 of 1 surviving mutants; "
        "1 mutant(s) a dropped test kills were not run against the project's own tests: no test is re-admitted for them"
    )


async def test_the_projects_own_tests_in_a_file_the_generated_tests_extend_count_as_the_project_wrote_them(
    make_bed: Callable[..., TestBed],
) -> None:
    """The generated tests extend the project's tests/test_existing.py, whose grade(90) kills the `>=` -> `==`
    mutant: run from the project's own version of that file (the generated file itself is left out), it still
    counts, and grade(70) stays dropped."""
    existing = "tests/test_existing.py"
    project = (GRADING / "grading" / existing).read_text()
    extended = project + "\n\n" + TESTS.split("\n\n\n", 1)[1]
    bed = make_bed("grading", {existing: extended})
    report = await judge_tests(bed, [existing], [TARGET], settings=AssuranceSettings(reliability_runs=1))
    kept = [j.test for j in report.judgements if j.verdict == Verdict.KEPT]
    assert kept == [f"{existing}::test_boundary_decides_pass_or_fail"]
    candidates = [j.test for j in report.judgements if adds_no_coverage(j)]
    assert f"{existing}::test_another_passing_score" in candidates
    scored = await mutation_score(bed, kept, [TARGET], budget_s=120)

    found = await rescue_tests(bed, scored, candidates, {existing: extended}, budget_s=120,
                               generated_files=[existing], project_versions={existing: project})  # fmt: skip

    assert found.rescued == []
    assert "killed by the project's own tests too" in found.note


async def test_a_coverage_free_test_that_kills_no_survivor_stays_dropped_and_budget_zero_changes_nothing(
    make_bed: Callable[..., TestBed],
) -> None:
    """The grade(49) test alone kills nothing; with a budget of 0 s nothing runs and the report stays as it was."""
    bed = make_bed("grading", {GEN: TESTS})
    candidates, report = await _judged_and_scored(bed)

    alone = await rescue_tests(bed, report, [f"{GEN}::test_the_boundary_again"], {GEN: TESTS}, budget_s=120)
    assert (alone.rescued, alone.tried) == ([], 1)
    assert rescored(report, alone) == report

    off = await rescue_tests(bed, report, candidates, {GEN: TESTS}, budget_s=0)
    assert (off.rescued, off.tried) == ([], 0)
    assert rescored(report, off) == report


async def test_a_test_dropped_as_covered_by_the_other_kept_tests_comes_back_for_the_mutant_only_it_kills(
    make_bed: Callable[..., TestBed],
) -> None:
    """Without the project's test, grade(70) is kept first and the boundary test then runs all of its lines and
    branches: the minimisation drops grade(70), yet only it sees `>=` -> `==`; the rescue re-admits it (8/8)."""
    tests = (
        "from grading import grade\n\n\ndef test_another_passing_score():\n    assert grade(70) == 'pass'\n\n\n"
        "def test_boundary_decides_pass_or_fail():\n    assert grade(50) == 'pass'\n    assert grade(49) == 'fail'\n"
    )
    bed = make_bed("grading", {GEN: tests})
    (bed.root / "tests" / "test_existing.py").unlink()
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))
    kept = [j.test for j in report.judgements if j.verdict == Verdict.KEPT]
    candidates = [j.test for j in report.judgements if adds_no_coverage(j)]
    assert kept == [f"{GEN}::test_boundary_decides_pass_or_fail"]
    assert candidates == [f"{GEN}::test_another_passing_score"]
    assert report.judgements[0].reason.startswith("covered by the other kept tests")

    scored = await mutation_score(bed, kept, [TARGET], budget_s=120)
    found = await rescue_tests(bed, scored, candidates, {GEN: tests}, budget_s=120)

    assert [r.test for r in found.rescued] == candidates
    (after,) = rescored(scored, found).scores
    assert (after.killed, after.total) == (8, 8)


def test_a_mutant_diff_applies_only_to_the_text_it_was_made_from() -> None:
    """cosmic-ray's unified diff changes exactly its line; on a file that changed since, it is not applied."""
    source = "def grade(score):\n    if score >= 50:\n        return 'pass'\n    return 'fail'\n"
    diff = ("--- mutation diff ---\n--- agrading.py\n+++ bgrading.py\n@@ -1,4 +1,4 @@\n def grade(score):\n"
            "-    if score >= 50:\n+    if score == 50:\n         return 'pass'\n     return 'fail'")  # fmt: skip
    assert apply_diff(source, diff) == source.replace(">=", "==")
    assert apply_diff(source.replace("50", "60"), diff) is None
    assert apply_diff(source, "") is None


def test_a_re_admitted_test_scores_every_mutant_it_kills_also_those_the_projects_tests_kill() -> None:
    """Re-admitted for m1, which only it kills, test a kills m2 and m3 too, which the project's tests kill as well:
    the score counts all three, as the kept tests' kills are counted (toolz dicttoolz: 2/73 said, 8/73 killed)."""
    m1, m2, m3, m4 = (Mutant(target=TARGET, line=n, operator="Op", original="x", mutated="y") for n in (1, 2, 3, 4))
    report = MutationReport(scores=[TargetScore(TARGET, killed=1, total=5, generated=5, survivors=[m1, m2, m3, m4])])
    found = RescueReport(rescued=[Rescued(test="a", kills=[m1])], kills={"a": [m1], "b": []},
                         cases={"a": ["a"], "b": ["b"]}, shared={"a": [m2, m3], "b": [m4]})  # fmt: skip

    (after,) = rescored(report, found).scores

    assert (after.killed, after.total, after.survivors) == (4, 5, [m4])
    assert "they kill 3 surviving mutant(s) (2 of them killed by the project's own tests too)" in (
        rescored(report, found).note
    )


def test_without_a_re_admitted_test_the_others_are_credited_with_the_mutants_they_kill_too() -> None:
    """Test a was chosen for mutants 1 and 2, b for 3 (it kills 2 as well): without a, b is kept for 2 and 3, and a
    test that was never chosen (c, killing 1) does not join."""
    m1, m2, m3 = (Mutant(target=TARGET, line=n, operator="Op", original="x", mutated="y") for n in (1, 2, 3))
    kills = {"a": [m1, m2], "b": [m2, m3], "c": [m1]}
    cases = {"a": ["a"], "b": ["b"], "c": ["c"]}
    found = RescueReport(rescued=[Rescued(test="a", kills=[m1, m2]), Rescued(test="b", kills=[m3])], kills=kills,
                         cases=cases)  # fmt: skip

    left = found.without({"a"})

    assert left.rescued == [Rescued(test="b", kills=[m2, m3])]
    assert left.killed == {m2, m3}
    assert found.without({"a", "b"}).rescued == []
