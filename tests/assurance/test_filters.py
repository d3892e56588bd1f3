"""Per-test filtering, coverage delta and mutation score end to end, on a real uv-built project environment."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handoff.assurance import generated_source
from handoff.assurance.checks import BUILT_ONLY
from handoff.assurance.coverage_delta import deltas, final_coverage, gaps
from handoff.assurance.filters import LEAKS_STATE, NO_NEW_COVERAGE, Verdict, adds_no_coverage, judge_tests
from handoff.assurance.mutation import mutation_score
from handoff.assurance.results import dropped_tests, kept_tests, round_counts, target_quality
from handoff.assurance.settings import AssuranceSettings
from handoff.assurance.testbed import TestBed
from handoff.schemas.events import TargetQuality
from tests.assurance.conftest import generated

GEN = "tests/test_generated.py"
TARGET = "grading.py"
GOOD = f"{GEN}::test_boundary_decides_pass_or_fail"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]  # real pytest, coverage and cosmic-ray runs


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
    assert gaps(deltas(report.baseline, report.baseline, [TARGET]), goal_pct=80) == [
        "grading.py: line 75 %, branch 50 % (line+branch 66.67 %, goal 80 %); lines not covered: 4; "
        "branches not taken: line 2->4"
    ]
    final = await final_coverage(bed, [GEN], [TARGET], report.baseline)
    assert (final[TARGET].line_pct, final[TARGET].branch_pct) == (100.0, 100.0)
    assert gaps(deltas(report.baseline, final, [TARGET]), goal_pct=80) == []

    assert kept_tests(report) == [GOOD]
    assert sorted(d.verdict.value for d in dropped_tests(report)) == ["failed", "flaky", "useless", "useless"]
    counts = round_counts(1, report)
    assert (counts.kept, counts.failed, counts.flaky, counts.useless) == (1, 1, 1, 2)


async def test_files_that_do_not_compile_or_import_lose_every_test_with_the_reason(
    make_bed: Callable[..., TestBed],
) -> None:
    """A syntax error and an import error fail the whole file (it is deleted); the good file is untouched."""
    good = "from grading import grade\n\n\ndef test_fail_below_fifty():\n    assert grade(3) == 'fail'\n"
    files = {
        "tests/test_broken.py": "def test_x(:\n    pass\n",
        "tests/test_missing.py": "import no_such_module\n\n\ndef test_y():\n    assert no_such_module\n",
        "tests/test_good.py": good,
    }
    bed = make_bed("grading", files)
    report = await judge_tests(bed, list(files), [TARGET], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test: (j.verdict, j.reason) for j in report.judgements}
    assert verdicts["tests/test_broken.py"][0] == Verdict.FAILED
    assert verdicts["tests/test_broken.py"][1].startswith("does not compile")
    assert verdicts["tests/test_missing.py::test_y"][0] == Verdict.FAILED
    assert "No module named 'no_such_module'" in verdicts["tests/test_missing.py::test_y"][1]
    assert verdicts["tests/test_good.py::test_fail_below_fifty"][0] == Verdict.KEPT
    assert not (bed.root / "tests/test_broken.py").exists() and not (bed.root / "tests/test_missing.py").exists()
    assert (bed.root / "tests/test_good.py").read_text() == good


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

    quality = target_quality(deltas({}, {}, [TARGET]), report)
    assert quality == [TargetQuality(target=TARGET, mutants_killed=7, mutants_total=8, mutation_score_pct=87.5,
                                     statements=0, branches=0)]  # fmt: skip


async def test_mutants_are_sampled_to_fit_the_budget_and_the_report_says_so(make_bed: Callable[..., TestBed]) -> None:
    """With a budget for one mutant, one of the 8 is sampled and the note says so."""
    bed = make_bed("grading", {GEN: generated("generated_grading_tests.py")})
    report = await mutation_score(bed, [GOOD], [TARGET], budget_s=1)

    (score,) = report.scores
    assert report.sampled and score.generated == 8 and score.total <= 1
    assert report.note.startswith("sampled 1 of 8 mutants to fit the 1 s budget")


LOOKUP = """def first(items, default=None):
    try:
        return items[0]
    except (IndexError, TypeError):
        return default
"""
LOOKUP_TEST = "from lookup import first\n\n\ndef test_none_gives_the_default():\n    assert first(None, 7) == 7\n"


async def test_an_exception_handler_mutant_the_tests_do_not_notice_survives(make_bed: Callable[..., TestBed]) -> None:
    """cosmic-ray writes `except (CosmicRayTestingException, TypeError)` for the IndexError: the test raises a
    TypeError, still caught, so the mutant survives; only the TypeError's replacement is killed. (Without the name
    defined, reaching the handler raised NameError and both counted as killed.)"""
    bed = make_bed("grading", {"lookup.py": LOOKUP, "tests/test_lookup.py": LOOKUP_TEST})
    report = await mutation_score(bed, ["tests/test_lookup.py"], ["lookup.py"], budget_s=120)

    (score,) = report.scores
    replaced = {m.mutated.strip() for m in score.survivors if m.operator.startswith("ExceptionReplacer")}
    assert replaced == {"except (CosmicRayTestingException, TypeError):"}
    assert not report.sampled


async def test_a_test_that_checks_nothing_survives_every_mutant(make_bed: Callable[..., TestBed]) -> None:
    """The assertion-free test covers the code yet kills none of the 8 mutants."""
    bed = make_bed("grading", {GEN: generated("generated_grading_tests.py")})
    report = await mutation_score(bed, [f"{GEN}::test_calls_without_checking"], [TARGET], budget_s=120)

    (score,) = report.scores
    assert (score.killed, score.total) == (0, 8)
    assert len(score.survivors) == 8


async def test_class_methods_and_parametrized_cases_are_judged_per_function(make_bed: Callable[..., TestBed]) -> None:
    """All cases of a parametrized method share one verdict; a method is cut from its class, the class stays."""
    source = (
        "import pytest\n\nfrom grading import grade\n\n\nclass TestGrade:\n"
        "    @pytest.mark.parametrize('score', [50, 80])\n    def test_pass(self, score):\n"
        "        assert grade(score) == 'pass'\n\n"
        "    def test_fail(self):\n        assert grade(10) == 'fail'\n"
    )
    bed = make_bed("grading", {GEN: source})
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test: j.verdict for j in report.judgements}
    assert verdicts == {f"{GEN}::TestGrade::test_pass": Verdict.USELESS, f"{GEN}::TestGrade::test_fail": Verdict.KEPT}
    remaining = generated_source.find_tests((bed.root / GEN).read_text())
    assert [f.qualname for f in remaining] == ["TestGrade.test_fail"]


async def test_a_project_without_tests_of_its_own_has_an_empty_baseline(make_bed: Callable[..., TestBed]) -> None:
    """No existing test imports the target: the baseline is 0 % line and branch, and the good test is kept."""
    bed = make_bed("grading", {GEN: generated("generated_grading_tests.py")})
    (bed.root / "tests" / "test_existing.py").unlink()
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    baseline = report.baseline[TARGET]
    assert (baseline.line_pct, baseline.branch_pct, baseline.statements) == (0.0, 0.0, frozenset())
    assert report.of(Verdict.KEPT)[0].test == GOOD


async def test_a_test_marked_to_fail_is_dropped_as_expected_to_fail_not_as_skipped(
    make_bed: Callable[..., TestBed],
) -> None:
    """Pynguin marks tests whose call raised with xfail: they ran and failed as marked, which is not 'skipped'."""
    source = (
        "import pytest\n\nfrom grading import grade\n\n\n@pytest.mark.xfail(strict=True)\n"
        "def test_raises_on_text():\n    grade('x')\n    assert False\n"
    )
    bed = make_bed("grading", {GEN: source})
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    (judgement,) = report.judgements
    assert judgement.verdict == Verdict.FAILED
    assert judgement.reason.startswith("is marked to fail (xfail) and fails as marked: it pins no behaviour"), (
        judgement.reason
    )


async def test_the_projects_unittest_tests_in_a_file_the_generator_extends_count_in_the_baseline(
    make_bed: Callable[..., TestBed],
) -> None:
    """cachetools 8.0.2's tests/test_keys.py holds a TestCase subclass not named Test*: extended by the offline
    engine, its tests are existing tests (in the baseline, not judged), so grading.py starts at 100/100 %."""
    own = (
        "import unittest\n\nfrom grading import grade\n\n\nclass GradeCases(unittest.TestCase):\n"
        "    def test_boundary(self):\n        self.assertEqual(grade(50), 'pass')\n"
        "        self.assertEqual(grade(49), 'fail')\n"
    )
    extended = "tests/test_grading.py"
    bed = make_bed("grading", {extended: own + "\n\ndef test_pynguin_0():\n    assert grade(70) == 'pass'\n"})
    # the test functions of the snapshot's version (the runner asks pytest: project_tests.collected_tests)
    existing = [f"{extended}::{t.qualname.replace('.', '::')}" for t in generated_source.find_tests(own)]
    report = await judge_tests(bed, [extended], [TARGET], settings=AssuranceSettings(reliability_runs=1),
                               existing=existing)  # fmt: skip

    assert (report.baseline[TARGET].line_pct, report.baseline[TARGET].branch_pct) == (100.0, 100.0)
    assert [(j.test, j.verdict) for j in report.judgements] == [(f"{extended}::test_pynguin_0", Verdict.USELESS)]


# boltons 26.2.0's tests/conftest.py answers pytest_ignore_collect with False for every file it does not skip
CONFTEST_THAT_COLLECTS_EVERYTHING = (
    "def pytest_ignore_collect(collection_path, config):\n"
    "    return collection_path.name.endswith('_py2.py')  # False otherwise: pytest stops asking\n"
)


async def test_generated_tests_stay_out_of_the_baseline_when_the_projects_conftest_answers_ignore_collect(
    make_bed: Callable[..., TestBed],
) -> None:
    """The generated file is --ignore'd for the baseline even under boltons' conftest, which returns False and so
    overrode pytest's --ignore: the baseline stays 75/50 % and the boundary test is kept, not judged useless."""
    bed = make_bed("grading", {GEN: generated("generated_grading_tests.py"),
                               "tests/conftest.py": CONFTEST_THAT_COLLECTS_EVERYTHING})  # fmt: skip
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    assert (report.baseline[TARGET].line_pct, report.baseline[TARGET].branch_pct) == (75.0, 50.0)
    assert [j.test for j in report.of(Verdict.KEPT)] == [GOOD]


TALLY = """class Tally:
    def __init__(self, start):
        if start < 0:
            raise ValueError("a tally starts at 0 or more")
        self.start = start
        self.count = start

    def add(self, n):
        self.count += n
        return self

    def double(self):
        return self.count * 2

    def halve(self):
        return self.count // 2

    def __or__(self, other):
        return Tally(self.count + other.count)
"""

# Pynguin's tests of boltons 26.2.0 mathutils built an object, asserted only that object, then called the method
# under test without checking its result; the project-style checks after them each add coverage of their own
TALLY_TESTS = """import unittest

import pytest

from tally import Tally


def test_asserts_only_the_object_it_built():
    tally = Tally(3)
    assert isinstance(tally, Tally)
    tally.add(2)


def test_asserts_the_argument_it_passed():
    tally = Tally(3)
    assert tally.start == 3
    tally.double()


def test_checks_the_state_a_call_changed():
    tally = Tally(1)
    tally.add(2)
    assert tally.count == 3


def test_a_constructor_that_raises():
    with pytest.raises(ValueError):
        Tally(-1)


def test_an_operator_result():
    assert (Tally(1) | Tally(2)).count == 3


def check_half(tally, expected):
    assert tally.halve() == expected


def test_through_a_helper_that_asserts():
    check_half(Tally(4), 2)


class TestTally(unittest.TestCase):
    def test_double(self):
        self.assertEqual(Tally(2).double(), 4)
"""


async def test_a_test_that_only_asserts_the_object_it_built_is_dropped(make_bed: Callable[..., TestBed]) -> None:
    """Asserting only the object built (isinstance, an attribute passed to the constructor) and then calling the
    method without checking its result is `useless` with the reason; the project-style checks of a call are kept."""
    bed = make_bed("grading", {"tally.py": TALLY, GEN: TALLY_TESTS})
    report = await judge_tests(bed, [GEN], ["tally.py"], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test.split("::", 1)[1]: (j.verdict, j.reason) for j in report.judgements}
    built_only = (Verdict.USELESS, BUILT_ONLY)
    assert verdicts.pop("test_asserts_only_the_object_it_built") == built_only
    assert verdicts.pop("test_asserts_the_argument_it_passed") == built_only
    assert {test: verdict for test, (verdict, _) in verdicts.items()} == {
        "test_checks_the_state_a_call_changed": Verdict.KEPT,
        "test_a_constructor_that_raises": Verdict.KEPT,
        "test_an_operator_result": Verdict.KEPT,
        "test_through_a_helper_that_asserts": Verdict.KEPT,
        "TestTally::test_double": Verdict.KEPT,
    }
    left = [f.qualname for f in generated_source.find_tests((bed.root / GEN).read_text())]
    assert "test_asserts_only_the_object_it_built" not in left and "TestTally.test_double" in left


WEEK = """class Week:
    def __init__(self, year, week):
        self.year, self.week = year, week

    def __eq__(self, other):
        return (self.year, self.week) == (other.year, other.week)

    def __ne__(self, other):
        return not self == other
"""

WEEK_TESTS = """from week import Week


def test_weeks_differ():
    week = Week(2020, 1)
    other = Week(2020, 2)
    assert week != other
"""


async def test_a_test_comparing_built_objects_of_a_class_that_defines_the_comparison_is_kept(
    make_bed: Callable[..., TestBed],
) -> None:
    """isoweek 1.3.3: ``assert week != other`` of two weeks the test built runs the project's ``__ne__`` (and
    ``__eq__``); it was dropped as checking only objects it built, though it covers both."""
    bed = make_bed("grading", {"week.py": WEEK, GEN: WEEK_TESTS})
    report = await judge_tests(bed, [GEN], ["week.py"], settings=AssuranceSettings(reliability_runs=1))

    assert [(j.test.split("::", 1)[1], j.verdict) for j in report.judgements] == [("test_weeks_differ", Verdict.KEPT)]


SCALE = """FACTORS = {"s": 1, "m": 60}
SEEN = []


def seconds(text):
    SEEN.append(text)
    return int(text[:-1]) * FACTORS[text[-1]]
"""

SCALE_TESTS = """from units import scale


def test_a_result():
    assert scale.seconds("2m") == 120


def test_a_constant_after_a_call():
    scale.seconds("2m")
    assert scale.FACTORS == {"s": 1, "m": 60}


def test_the_size_of_a_constant_after_a_call():
    scale.seconds("2m")
    assert len(scale.FACTORS) == 2


def test_the_state_a_call_changed():
    scale.seconds("3s")
    assert scale.SEEN[-1] == "3s"
"""


async def test_a_module_constant_checked_after_a_call_on_its_module_is_dropped_and_the_state_it_changed_is_not(
    make_bed: Callable[..., TestBed],
) -> None:
    """pytimeparse 1.1.10: ``from units import scale`` binds the module the tree holds as units/scale.py; its
    constant after a call, as it is or through ``len``, is not a value of the code (`useless`), the call's result is,
    and so is the module's list the call appends to (a check: it goes on to the coverage step)."""
    files = {"units/__init__.py": "", "units/scale.py": SCALE, GEN: SCALE_TESTS}
    bed = make_bed("grading", files)
    report = await judge_tests(bed, [GEN], ["units/scale.py"], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test.split("::", 1)[1]: (j.verdict, j.reason) for j in report.judgements}
    assert verdicts["test_a_constant_after_a_call"] == (Verdict.USELESS, BUILT_ONLY)
    assert verdicts["test_the_size_of_a_constant_after_a_call"] == (Verdict.USELESS, BUILT_ONLY)
    assert verdicts["test_the_state_a_call_changed"] == (Verdict.USELESS, NO_NEW_COVERAGE)  # test_a_result's lines
    assert verdicts["test_a_result"][0] == Verdict.KEPT


async def test_a_kept_test_whose_coverage_the_later_kept_tests_hold_is_dropped_as_covered_by_them(
    make_bed: Callable[..., TestBed],
) -> None:
    """iso8601 2.1.0: test_pynguin_0 was kept for adding coverage first, then test_pynguin_1 ran all of it and more;
    both were kept. The minimisation after the greedy keep drops test_pynguin_0 and counts test_pynguin_1 again."""
    tests = (
        "from grading import grade\n\n\ndef test_pynguin_0():\n    assert grade(70) == 'pass'\n\n\n"
        "def test_pynguin_1():\n    assert grade(50) == 'pass'\n    assert grade(49) == 'fail'\n"
    )
    bed = make_bed("grading", {GEN: tests})
    (bed.root / "tests" / "test_existing.py").unlink()  # an empty baseline: test_pynguin_0 adds coverage first
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test.rsplit("::", 1)[1]: (j.verdict, j.reason) for j in report.judgements}
    assert verdicts == {
        "test_pynguin_0": (
            Verdict.USELESS,
            "covered by the other kept tests: every line and branch it runs is run by test_pynguin_1",
        ),
        "test_pynguin_1": (Verdict.KEPT, "adds 3 line(s) and 2 branch(es) of coverage"),
    }
    assert adds_no_coverage(report.judgements[0])  # a candidate of the mutation rescue, like a coverage-free test
    assert [f.qualname for f in generated_source.find_tests((bed.root / GEN).read_text())] == ["test_pynguin_1"]


HASH_TESTS = """from grading import grade


def test_pins_a_hash():
    assert hash(grade(70)) == 5740354900026072187


def test_pins_a_wrong_grade():
    assert grade(70) == "fail"
"""


async def test_a_failing_test_that_asserts_a_hash_is_said_to_pin_one_process_s_hash(
    make_bed: Callable[..., TestBed],
) -> None:
    """toolz 1.0.0: Pynguin's ``assert hash(key) == 8181678105951319533`` of a str key was dropped as ``fails:
    assert 429489805137969580 == 8181678105951319533``, which reads as a bug of the project's."""
    bed = make_bed("grading", {GEN: HASH_TESTS})
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    reasons = {j.test.rsplit("::", 1)[1]: j.reason for j in report.judgements}
    assert reasons["test_pins_a_hash"].startswith(
        "fails, and it asserts a hash, which for a str or bytes differs from one Python process to the next "
        "(PYTHONHASHSEED): the value was the generator's: "
    ), reasons
    assert reasons["test_pins_a_wrong_grade"].startswith("fails: "), reasons


RULES = """RULES = ["a"]


def add_rule(rule):
    RULES.append(rule)
    return len(RULES)


def count():
    return len(RULES)
"""

RULES_TESTS = """import rules
from rules import add_rule, count


def test_count_is_positive():
    assert count() >= 1


def test_add_rule():
    assert add_rule("x") == 2


def test_count_is_an_int():
    assert isinstance(count(), int)


def test_count_is_small():
    assert count() < 100


def test_count():
    assert count() == 1


def test_wrong_count():
    assert count() == 5
"""


async def test_a_test_that_leaves_changed_state_is_failed_and_the_tests_it_broke_are_judged_without_it(
    make_bed: Callable[..., TestBed],
) -> None:
    """inflection 0.5.1: a CrossHair test added a rule to the module's ``PLURALS`` and left it there; 15 tests run
    after it that read the rules failed and were dropped as ``fails``. The test that leaves the state changed is the
    one failed (found among the passing tests by halving them); the one it broke is judged on as if it had not run; a
    test failing on its own stays failed."""
    bed = make_bed("grading", {"rules.py": RULES, GEN: RULES_TESTS})
    report = await judge_tests(bed, [GEN], ["rules.py"], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test.rsplit("::", 1)[1]: (j.verdict, j.reason) for j in report.judgements}
    assert verdicts["test_add_rule"] == (
        Verdict.FAILED, f"{LEAKS_STATE}: 1 other test(s) fail after it (test_count)"
    ), verdicts  # fmt: skip
    assert verdicts["test_count"] == (Verdict.USELESS, NO_NEW_COVERAGE), verdicts  # judged on: it passed its runs
    assert verdicts["test_wrong_count"][0] == Verdict.FAILED and verdicts["test_wrong_count"][1].startswith("fails:")


LEVELS = """def level(n):
    if n > 10:
        return "high"
    if n > 5:
        return "mid"
    return "low"
"""

LEVELS_TESTS = """from levels import level


def test_high():
    assert level(20) == "high"


def test_high_and_mid():
    assert level(20) == "high"
    assert level(7) == "mid"


def test_every_level():
    assert level(20) == "high"
    assert level(7) == "mid"
    assert level(1) == "low"
"""


async def test_a_test_covered_by_others_is_said_covered_by_tests_that_are_kept_not_by_ones_dropped_after_it(
    make_bed: Callable[..., TestBed],
) -> None:
    """toolz 1.0.0: ``test_equality_hash_key_eq`` was said covered by ``test_equality_hash_key_ne_1``, which the
    minimisation dropped next. Each of a chain of tests, each running what the one before runs and more, is kept by
    the greedy pass; the minimisation keeps the last, and both others name it alone."""
    bed = make_bed("grading", {"levels.py": LEVELS, GEN: LEVELS_TESTS})
    report = await judge_tests(bed, [GEN], ["levels.py"], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test.rsplit("::", 1)[1]: (j.verdict, j.reason) for j in report.judgements}
    said = "covered by the other kept tests: every line and branch it runs is run by test_every_level"
    assert verdicts["test_high"] == (Verdict.USELESS, said)
    assert verdicts["test_high_and_mid"] == (Verdict.USELESS, said)
    assert verdicts["test_every_level"][0] == Verdict.KEPT


async def test_kept_tests_that_each_run_something_the_others_do_not_are_all_kept(
    make_bed: Callable[..., TestBed],
) -> None:
    """Two tests covering different branches overlap on the condition line; neither is a subset: both stay."""
    tests = (
        "from grading import grade\n\n\ndef test_pass():\n    assert grade(70) == 'pass'\n\n\n"
        "def test_fail():\n    assert grade(10) == 'fail'\n"
    )
    bed = make_bed("grading", {GEN: tests})
    (bed.root / "tests" / "test_existing.py").unlink()
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    assert [(j.test.rsplit("::", 1)[1], j.verdict, j.reason) for j in report.judgements] == [
        ("test_pass", Verdict.KEPT, "adds 2 line(s) and 1 branch(es) of coverage"),
        ("test_fail", Verdict.KEPT, "adds 1 line(s) and 1 branch(es) of coverage"),
    ]


ZONES = """from typing import Dict, Optional


def zone_name(matches: Dict[str, str], default: Optional[str] = "UTC") -> str:
    tz = matches.get("timezone")
    if tz is None:
        return default
    return f"{matches.get('sign')}{tz}"
"""

# iso8601 2.1.0's Pynguin tests: parse_timezone(matches={'timezone': 2461.62}) pinned a zone named 'None00:00'
ZONE_TESTS = """from zones import zone_name


def test_pynguin_0():
    var_0 = zone_name(matches={"timezone": 2461.62})
    assert var_0 == "None2461.62"


def test_pynguin_1():
    var_0 = {"timezone": 5, "sign": "+"}
    assert zone_name(matches=var_0) == "+5"


def test_a_zone_with_its_sign():
    assert zone_name({"timezone": "05:00", "sign": "+"}) == "+05:00"


def test_no_zone_gives_the_default():
    assert zone_name({}, default=None) is None
"""


async def test_a_test_that_passes_a_literal_its_functions_annotation_rules_out_is_dropped(
    make_bed: Callable[..., TestBed],
) -> None:
    """A float or an int where `Dict[str, str]` wants str values pins an accident of the implementation: useless,
    with the call named; calls within the declared types are kept."""
    bed = make_bed("grading", {"zones.py": ZONES, GEN: ZONE_TESTS})
    report = await judge_tests(bed, [GEN], ["zones.py"], settings=AssuranceSettings(reliability_runs=1))

    verdicts = {j.test.split("::", 1)[1]: (j.verdict, j.reason) for j in report.judgements}
    assert verdicts == {
        "test_pynguin_0": (
            Verdict.USELESS,
            "pins behaviour for input outside the function's declared types: "
            "zone_name(matches={'timezone': 2461.62}) where matches is declared Dict[str, str]",
        ),
        "test_pynguin_1": (
            Verdict.USELESS,
            "pins behaviour for input outside the function's declared types: "
            "zone_name(matches=var_0) where matches is declared Dict[str, str]",
        ),
        "test_a_zone_with_its_sign": (Verdict.KEPT, "adds 3 line(s) and 1 branch(es) of coverage"),
        "test_no_zone_gives_the_default": (Verdict.KEPT, "adds 1 line(s) and 1 branch(es) of coverage"),
    }


async def test_the_imports_only_dropped_tests_used_are_cut_with_them_and_the_projects_own_stay(
    make_bed: Callable[..., TestBed],
) -> None:
    """iso8601 2.1.0: `from iso8601.iso8601 import FixedOffset` stayed after its only test was dropped. The file
    kept holds the kept test and what it imports; in an extended file the project's own imports stay."""
    own = "import math\n\nfrom grading import grade\n\n\ndef test_own():\n    assert grade(90) == 'pass'\n"
    generated_part = (
        "\n\ndef test_low():\n    assert grade(10) == 'fail'\n\n\n"
        "def test_high_again():\n    assert grade(statistics.mean([80, 90])) == 'pass'\n\n\n"
        "def test_rounded():\n    assert grade(math.floor(99.5)) == 'pass'\n"
    )
    extended = "tests/test_grading.py"
    text = own.replace("import math\n", "import math\nimport statistics\n") + generated_part
    bed = make_bed("grading", {extended: text})
    (bed.root / "tests" / "test_existing.py").unlink()
    report = await judge_tests(bed, [extended], [TARGET], settings=AssuranceSettings(reliability_runs=1),
                               existing=[f"{extended}::test_own"], project_versions={extended: own})  # fmt: skip

    assert [(j.test.rsplit("::", 1)[1], j.verdict) for j in report.judgements] == [
        ("test_low", Verdict.KEPT), ("test_high_again", Verdict.USELESS), ("test_rounded", Verdict.USELESS),
    ]  # fmt: skip
    assert (bed.root / extended).read_text() == own + "\n\ndef test_low():\n    assert grade(10) == 'fail'\n"


HELPED = (
    "import pytest\n\nfrom grading import grade\n\nPASSING = [50, 70]\n\n\n"
    "def assert_passes(score):\n    assert grade(score) == 'pass'\n\n\n"
    "def check_all_passing():\n    for score in PASSING:\n        assert_passes(score)\n\n\n"
    "@pytest.fixture\ndef low_score():\n    return 49\n\n\n"
    "def test_boundary(low_score):\n    assert grade(50) == 'pass'\n    assert grade(low_score) == 'fail'\n\n\n"
    "def test_all_passing():\n    check_all_passing()\n"
)


async def test_helpers_only_a_dropped_test_called_are_cut_and_the_kept_tests_still_pass(
    make_bed: Callable[..., TestBed],
) -> None:
    """The test adding no coverage goes with the helpers and the constant only it reached (`check_all_passing`,
    the `assert_passes` it called, `PASSING`); the kept test's fixture stays, and the file handed over passes."""
    bed = make_bed("grading", {GEN: HELPED})
    report = await judge_tests(bed, [GEN], [TARGET], settings=AssuranceSettings(reliability_runs=1))

    assert {j.test.rsplit("::", 1)[1]: j.verdict for j in report.judgements} == {
        "test_boundary": Verdict.KEPT,
        "test_all_passing": Verdict.USELESS,
    }
    handed_over = (bed.root / GEN).read_text()
    assert handed_over == (
        "import pytest\n\nfrom grading import grade\n\n\n@pytest.fixture\ndef low_score():\n    return 49\n\n\n"
        "def test_boundary(low_score):\n    assert grade(50) == 'pass'\n    assert grade(low_score) == 'fail'\n"
    )
    run = await bed.pytest([GEN], name="handed-over")
    assert (run.exit_code, run.outcomes) == (0, {f"{GEN}::test_boundary": "passed"})
