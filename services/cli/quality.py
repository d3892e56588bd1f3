"""How a test-generation result's quality reads on one line: coverage before -> after, mutants killed, goals."""

from __future__ import annotations

from handoff.assurance import existing_suite
from handoff.assurance.figures import coverage_words, final_cell
from handoff.schemas.events import TaskFinished, TestGenerationResult


def generation_result(finished: TaskFinished | None) -> TestGenerationResult | None:
    result = finished.result if finished is not None else None
    return result if isinstance(result, TestGenerationResult) else None


def existing_tests_suffice(result: TestGenerationResult) -> bool:
    """The task succeeded adding nothing: every generated test was dropped, the project's own tests meet the coverage
    goal (a mutation goal is then not measured: there is no kept test to score)."""
    return coverage_met(result) and not result.files_produced and not result.tests_kept and bool(result.quality)


def coverage_met(result: TestGenerationResult) -> bool:
    """The coverage goal alone (older generators' ``goal_met`` is the coverage goal alone)."""
    return result.goal_met if result.coverage_goal_met is None else result.coverage_goal_met


def mutation_unmeasured(result: TestGenerationResult) -> bool:
    """The task set a mutation goal and some target has no score (a goal not measured is never met)."""
    if result.mutation_goal_pct is None:
        return False
    return bool(result.mutation_not_measured) or any(q.mutation_score_pct is None for q in result.quality)


def verdict(result: TestGenerationResult) -> str:
    """``met`` (every goal the task set was measured and met), ``NOT met`` (a goal measured and missed), or ``not
    measured`` (no goal missed, but the mutation goal was not measured on every target)."""
    goal = result.mutation_goal_pct
    under = goal is not None and any(q.mutation_score_pct is not None and q.mutation_score_pct < goal
                                     for q in result.quality)  # fmt: skip
    if not coverage_met(result) or under or result.mutation_goal_met is False:
        return "NOT met"
    if mutation_unmeasured(result):
        return "not measured"
    return "met" if result.goal_met else "NOT met"


def target_lines(result: TestGenerationResult) -> list[str]:
    """Per target: ``grading.py: line 75 -> 100 %, branch 50 -> 100 %, mutants 7/8 (87.5 %)``."""
    lines = []
    for q in result.quality:
        text = f"{q.target}: {coverage_words(q)}"
        if q.mutation_score_pct is not None:
            sampled = ", sampled" if q.mutants_sampled else ""
            text += f", mutants {q.mutants_killed}/{q.mutants_total} ({q.mutation_score_pct:g} %{sampled})"
        lines.append(text)
    return lines


def pct(value: float) -> str:
    """To two decimals, as the quality line shows the same figures (89.19, not 89.2 beside 89.19); 62.5 stays 62.5
    (rounding down to 62 would report less than was measured); 80.0 shows as 80."""
    return f"{value:.2f}".rstrip("0").removesuffix(".")


def goal_words(result: TestGenerationResult) -> str:
    """``goal met (80 % line+branch, with the project's tests)``; when the task set a mutation goal, each goal and
    whether it was met: ``goal NOT met (80 % line+branch, with the project's tests: met; mutation score 60 %: NOT
    met, grading.py 40 %)``."""
    said = verdict(result)
    coverage = f"{pct(result.coverage_goal_pct)} % line+branch, with the project's tests"
    if result.mutation_goal_pct is None:
        return f"goal {said} ({coverage})"
    covered = "met" if coverage_met(result) else "NOT met"
    return f"goal {said} ({coverage}: {covered}; {mutation_goal_words(result)})"


def mutation_goal_words(result: TestGenerationResult) -> str:
    """The mutation goal and how the targets' scores compare with it: met, NOT met (naming the targets under it
    with their scores) or not measured, with the reason (a goal not measured on some target is not met)."""
    goal = result.mutation_goal_pct or 0.0
    scored = [(q.target, q.mutation_score_pct) for q in result.quality if q.mutation_score_pct is not None]
    under = [f"{target} {pct(score)} %" for target, score in scored if score < goal]
    unmeasured = [q.target for q in result.quality if q.mutation_score_pct is None]
    why = f": {result.mutation_not_measured}" if result.mutation_not_measured else ""
    text = f"mutation score {pct(goal)} %: "
    if under:
        text += "NOT met, " + ", ".join(under)
    elif scored and not unmeasured:
        return text + "met"
    elif not scored:
        return text + "not measured" + why
    else:
        text += "met where measured"
    if not unmeasured:
        return text
    # the reason names each target it is about; an older result without one gets the targets' names
    return text + (f"; not measured{why}" if why else f"; not measured for {', '.join(unmeasured)}")


SHORT_GOAL = {"met": "goal met", "not measured": "coverage goal met, MUTATION GOAL NOT MEASURED"}


def short(result: TestGenerationResult) -> str:
    """One cell for a table of tasks: final line/branch % per target and whether the goal was met."""
    cells = [final_cell(q) for q in result.quality[:3]]
    if not cells:
        cells = [f"{c.target} line {c.percent:g} %" for c in result.coverage[:3]]
    more = " …" if max(len(result.quality), len(result.coverage)) > 3 else ""
    said = verdict(result)
    goal = SHORT_GOAL.get(said, "GOAL NOT MET")
    if existing_tests_suffice(result):
        goal = "goal met by the existing tests, nothing added"
        if said != "met":  # a mutation goal: nothing kept, nothing scored
            goal = "coverage goal met by the existing tests, nothing added, MUTATION GOAL NOT MEASURED"
    counts = f"kept {len(result.tests_kept)}, dropped {len(result.tests_dropped)}"
    return f"{baseline_flag(result)}{'; '.join(cells)}{more} ({goal}, {counts})"


BASELINE_FLAG = "[the project's own tests did not run; see handoff result] "
PARTIAL_BASELINE_FLAG = "[some of the project's tests did not run; see handoff result] "


def baseline_flag(result: TestGenerationResult) -> str:
    """'' when the baseline is the project's suite; else whether none or only some of its tests ran."""
    if not result.baseline_problem:
        return ""
    return PARTIAL_BASELINE_FLAG if existing_suite.is_partial(result.baseline_problem) else BASELINE_FLAG


def baseline_label(result: TestGenerationResult) -> str:
    """How `handoff result` heads the baseline problem: none of the project's tests ran, or only some."""
    if existing_suite.is_partial(result.baseline_problem):
        return "baseline only some of the project's tests"
    return "baseline NOT the project's tests"


def baseline_hint(result: TestGenerationResult) -> str:
    """When the project's tests could not import a module: the submit option that installs it, else ''."""
    missing = existing_suite.missing_modules(result.baseline_problem)
    if not missing:
        return ""
    options = " ".join(f"--extra-package {name}" for name in missing)
    return (f"the project's tests import {', '.join(missing)}, missing from its environment: submit again with "
            f"{options} (the package's name on PyPI, where it differs from the module's)")  # fmt: skip
