"""Coverage as a delta: the targets' line and branch coverage by the project's existing tests (the baseline),
then with the kept tests, and feedback that names the lines and branches still not covered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from handoff.assurance import existing_suite
from handoff.assurance.coverage_runs import Arc, TargetCoverage, measure, merged
from handoff.assurance.testbed import TestBed


@dataclass(frozen=True, slots=True)
class TargetDelta:
    target: str
    baseline: TargetCoverage
    final: TargetCoverage

    def gap(self, goal_pct: float) -> str:
        """'' when line+branch coverage reaches the goal, else what is still missing."""
        final = self.final
        if final.combined_pct >= goal_pct and final.statements:
            return ""
        if not final.statements:  # imported with nothing to measure: no test can add anything
            return "" if final.measured else f"{self.target}: not imported by any test (0 %)"
        lines = _ranges(sorted(final.statements - final.executed))
        arcs = sorted(final.branches - final.taken)
        head = (f"{self.target}: line {final.line_pct:g} %, branch {final.branch_pct:g} % "
                f"(line+branch {final.combined_pct:g} %, goal {goal_pct:g} %)")  # fmt: skip
        parts = [head]
        if lines:
            parts.append(f"lines not covered: {lines}")
        if arcs:
            shown = ", ".join(_arc(a) for a in arcs[:30]) + (" …" if len(arcs) > 30 else "")
            parts.append(f"branches not taken: {shown}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class ExistingTests:
    """The targets' coverage by the project's own tests, why that is not (all of) their suite ('' when it is), the
    tests that failed (node id -> pytest's one-line reason) and how many ran."""

    coverage: dict[str, TargetCoverage] = field(default_factory=dict)
    problem: str = ""
    failed: dict[str, str] = field(default_factory=dict)
    ran: int = 0


async def existing_coverage(bed: TestBed, generated_files: Sequence[str], targets: Sequence[str]) -> ExistingTests:
    """The targets' coverage by the project's own tests (pytest's default collection without the generated files,
    and the test modules its default names miss, named on its command line: existing_suite.uncollected_suites).

    A project without tests, or whose tests do not import a target, has an empty baseline for it (0 %). A module
    that does not collect leaves the others running (``--continue-on-collection-errors``); when pytest could not
    collect or run the tests, ``problem`` says so in pytest's words (existing_suite.py).
    """
    ignored = [f"--ignore={name}" for name in generated_files]
    run = await measure(bed, ["--continue-on-collection-errors", *ignored], targets, name="existing")
    suites = existing_suite.uncollected_suites(bed.root, generated_files, run.tests)
    runs = [run.targets]
    named = None
    if suites:
        named_run = await measure(bed, ["--continue-on-collection-errors", *suites], targets, name="existing-named")
        named = named_run.tests
        runs.append(named_run.targets)
    problem = existing_suite.problem(run.tests, bed.root, generated_files, named)
    failed, ran = existing_suite.failed_tests([run.tests, *([named] if named is not None else [])])
    return ExistingTests(coverage=merged(runs, targets), problem=problem, failed=failed, ran=ran)


async def final_coverage(
    bed: TestBed, kept_files: Sequence[str], targets: Sequence[str], baseline: Mapping[str, TargetCoverage]
) -> dict[str, TargetCoverage]:
    """The baseline plus what the kept test files cover."""
    if not kept_files:
        return merged([dict(baseline)], targets)
    run = await measure(bed, list(kept_files), targets, name="kept")
    return merged([dict(baseline), run.targets], targets)


def deltas(
    baseline: Mapping[str, TargetCoverage], final: Mapping[str, TargetCoverage], targets: Sequence[str]
) -> list[TargetDelta]:
    empty = TargetCoverage()
    return [TargetDelta(t, baseline.get(t, empty), final.get(t, empty)) for t in targets]


def gaps(per_target: Sequence[TargetDelta], goal_pct: float) -> list[str]:
    return [gap for delta in per_target if (gap := delta.gap(goal_pct))]


def _arc(arc: Arc) -> str:
    start, end = arc
    return f"line {start}->{end if end > 0 else 'exit'}"


def _ranges(lines: Sequence[int]) -> str:
    spans: list[str] = []
    for n in lines:
        if spans and n == int(spans[-1].rsplit("-", 1)[-1]) + 1:
            spans[-1] = f"{spans[-1].split('-')[0]}-{n}"
        else:
            spans.append(str(n))
    return ", ".join(spans[:40]) + (" …" if len(spans) > 40 else "")
