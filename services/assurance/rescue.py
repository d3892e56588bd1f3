"""Mutation rescue: tests the filters dropped only for adding no coverage are run against the mutants that
survived the kept tests, and the ones that kill some are re-admitted (a sharper assertion on a covered line).

Each surviving mutant is applied from cosmic-ray's own diff of the module in a private copy of the tree (a mutant
whose diff does not apply to the file as it is is left out), every candidate runs in one pytest session against
it, and the file is put back. A mutant some candidate kills is then run against the project's own tests (as the
baseline runs them, the generated files left out): one they kill too is no reason to hand a test over. The
candidates that kill the most of the remaining survivors not yet killed are re-admitted first.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from handoff.assurance import existing_suite
from handoff.assurance.errors import CommandTimedOut
from handoff.assurance.mutation import Mutant, MutationReport
from handoff.assurance.testbed import TestBed

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True, slots=True)
class Rescued:
    test: str  # "tests/test_x.py::test_y", as the filters named it
    kills: list[Mutant]  # the surviving mutants it kills that no test re-admitted before it kills
    cases: int = 1  # its node ids (parametrized cases) that passed on the unmutated tree

    @property
    def reason(self) -> str:
        first = self.kills[0]
        more = f" (and {len(self.kills) - 1} more)" if len(self.kills) > 1 else ""
        return f"kills a mutant the other tests miss: {first.target}:{first.line} {first.operator}{more}"


@dataclass(frozen=True, slots=True)
class RescueReport:
    rescued: list[Rescued]
    tried: int = 0  # surviving mutants the candidates ran against
    note: str = ""

    @property
    def killed(self) -> set[Mutant]:
        return {m for r in self.rescued for m in r.kills}


async def rescue_tests(
    bed: TestBed,
    report: MutationReport,
    candidates: Sequence[str],
    sources: Mapping[str, str],
    *,
    budget_s: float,
    generated_files: Sequence[str] = (),
    project_versions: Mapping[str, str] | None = None,
) -> RescueReport:
    """Run ``candidates`` (tests as "file::name") against ``report``'s surviving mutants within ``budget_s`` seconds.

    ``sources`` are the candidates' test files as they were before the filters cut them (path -> text): they are
    written into a private copy of ``bed.root``; the tree itself is not changed. ``generated_files`` (besides the
    sources' files) are left out when the project's own tests run against a mutant a candidate kills, except the
    project's test files they extend: ``project_versions`` (path -> the project's text) run as the project wrote them.
    """
    survivors = [m for s in report.scores for m in s.survivors]
    if not candidates or not survivors or budget_s <= 0:
        return RescueReport(rescued=[])
    started = time.monotonic()
    tree = bed.copy_tree("rescue-tree")
    for name, text in sources.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    clean = await replace(bed, timeout_s=min(bed.timeout_s, budget_s)).pytest(list(candidates), name="rescue-clean",
                                                                         root=tree)  # fmt: skip
    test_s = time.monotonic() - started
    cases = {c: _cases(c, clean.outcomes) for c in candidates}
    passing = [c for c in candidates if cases[c] and all(clean.outcomes[n] == "passed" for n in cases[c])]
    if not passing:
        return RescueReport(rescued=[], note="no coverage-free test passes on its own any more")
    kills: dict[str, list[Mutant]] = {c: [] for c in passing}
    tried, skipped, note = 0, 0, ""
    originals: dict[str, str] = {}  # target -> its text, read once
    for mutant in survivors:
        remaining_s = budget_s - (time.monotonic() - started)
        if remaining_s < test_s:
            note = f"the {budget_s:g} s rescue budget ran out after {tried} of {len(survivors)} surviving mutants"
            break
        path = tree / mutant.target
        original = originals.get(mutant.target)
        if original is None:
            original = originals[mutant.target] = path.read_text()
        mutated = apply_diff(original, mutant.diff)
        if mutated is None:
            skipped += 1
            continue
        path.write_text(mutated)
        bounded = replace(bed, timeout_s=min(max(10.0, 5 * test_s), remaining_s))
        try:
            run = await bounded.pytest(passing, name="rescue", root=tree)
        except CommandTimedOut:  # a hang cannot be put down to one candidate: no kill is counted
            continue
        finally:
            path.write_text(original)
        tried += 1
        for c in passing:
            if any(run.outcomes.get(n) in ("failed", "error") for n in cases[c]):
                kills[c].append(mutant)
    if skipped:
        note = (note + "; " if note else "") + f"{skipped} mutant(s) whose diff did not apply were left out"
    killed = list(dict.fromkeys(m for c in passing for m in kills[c]))
    if killed:
        versions = dict(project_versions or {})
        for name, text in versions.items():  # the project's own tests of the files the generated tests extend
            (tree / name).write_text(text)
        ignored = sorted({*generated_files, *sources} - set(versions))
        theirs, said = await _killed_by_project(
            bed, tree, killed, ignored, originals, budget_s - (time.monotonic() - started)
        )
        kills = {c: [m for m in found if m not in theirs] for c, found in kills.items()}
        note = (note + "; " if note else "") + said if said else note
    return RescueReport(rescued=_greedy(passing, kills, cases), tried=tried, note=note)


async def _killed_by_project(
    bed: TestBed, tree: Path, mutants: list[Mutant], ignored: list[str], originals: Mapping[str, str], budget_s: float
) -> tuple[set[Mutant], str]:
    """Which of ``mutants`` (each applying to ``originals``) the project's own tests kill: a test of theirs that
    passes on the clean tree fails with the mutant. Their runs are the baseline's (pytest's default collection with
    ``ignored`` left out, then the test modules its names miss). Mutants the budget leaves unchecked count as not
    killed by them; the note says how many."""
    started = time.monotonic()
    default = ["--continue-on-collection-errors", *(f"--ignore={name}" for name in ignored)]
    bounded = replace(bed, timeout_s=min(bed.timeout_s, max(1.0, budget_s)))
    try:
        clean = [await bounded.pytest(default, name="rescue-project-clean", root=tree)]
        named = existing_suite.uncollected_suites(tree, ignored, clean[0])
        if named:
            clean.append(await bounded.pytest(["--continue-on-collection-errors", *named],
                                              name="rescue-project-clean-named", root=tree))  # fmt: skip
    except CommandTimedOut:
        return set(), "the project's own tests did not finish within the rescue budget: not run against the mutants"
    passed = {node for run in clean for node, outcome in run.outcomes.items() if outcome == "passed"}
    if not passed:
        return set(), ""
    suites = [default, *([["--continue-on-collection-errors", *named]] if named else [])]
    run_s = time.monotonic() - started
    theirs: set[Mutant] = set()
    checked = 0
    for mutant in mutants:
        remaining_s = budget_s - (time.monotonic() - started)
        if remaining_s < run_s:
            break
        path = tree / mutant.target
        mutated = apply_diff(originals[mutant.target], mutant.diff)
        if mutated is None:
            continue
        path.write_text(mutated)
        try:
            for args in suites:
                run = await replace(bed, timeout_s=min(max(10.0, 5 * run_s), remaining_s)).pytest(
                    args, name="rescue-project", root=tree
                )
                if any(run.outcomes.get(node) in ("failed", "error") for node in passed):
                    theirs.add(mutant)
                    break
        except CommandTimedOut:  # a hang: the mutant is not put down to the project's tests
            pass
        finally:
            path.write_text(originals[mutant.target])
        checked += 1
    said = []
    if theirs:
        said.append(f"{len(theirs)} mutant(s) a dropped test kills are killed by the project's own tests too")
    if checked < len(mutants):
        said.append(f"{len(mutants) - checked} mutant(s) a dropped test kills were not run against the project's "
                    f"own tests (the rescue budget ran out)")  # fmt: skip
    return theirs, "; ".join(said)


def rescored(report: MutationReport, rescue: RescueReport) -> MutationReport:
    """``report`` with the mutants the re-admitted tests kill counted as killed (no longer surviving)."""
    killed = rescue.killed
    if not killed:
        return report
    scores = [replace(s, killed=s.killed + sum(m in killed for m in s.survivors),
                      survivors=[m for m in s.survivors if m not in killed]) for s in report.scores]  # fmt: skip
    tests = len(rescue.rescued)
    note = f"{tests} test(s) dropped for adding no coverage re-admitted: they kill {len(killed)} surviving mutant(s)"
    return replace(report, scores=scores, note=f"{report.note}; {note}" if report.note else note)


def apply_diff(source: str, diff: str) -> str | None:
    """``source`` with cosmic-ray's unified diff applied (lines split on "\\n"); None when it does not apply."""
    lines = source.split("\n")
    out: list[str] = []
    at = 0  # index into lines of the next line not yet copied
    body = diff.split("\n")
    i = 0
    hunks = 0
    while i < len(body):
        match = _HUNK.match(body[i])
        i += 1
        if not match:
            continue
        hunks += 1
        start = int(match.group(1)) - (0 if match.group(2) == "0" else 1)
        old_left = int(match.group(2) or 1)
        new_left = int(match.group(4) or 1)
        if start < at or start > len(lines):
            return None
        out.extend(lines[at:start])
        at = start
        while (old_left or new_left) and i < len(body):
            mark, text = body[i][:1], body[i][1:]
            i += 1
            if mark in (" ", "-"):
                if at >= len(lines) or lines[at] != text:
                    return None
                at += 1
                old_left -= 1
                if mark == " ":
                    out.append(text)
                    new_left -= 1
            elif mark == "+":
                out.append(text)
                new_left -= 1
            else:
                return None
        if old_left or new_left:
            return None
    if not hunks:
        return None
    out.extend(lines[at:])
    return "\n".join(out)


def _cases(test: str, outcomes: Mapping[str, str]) -> list[str]:
    return [node for node in outcomes if node == test or node.startswith(test + "[")]


def _greedy(passing: list[str], kills: dict[str, list[Mutant]], cases: dict[str, list[str]]) -> list[Rescued]:
    """The candidate killing the most survivors not yet killed first (the earlier one on a tie), until none adds."""
    chosen: list[Rescued] = []
    left = {m for c in passing for m in kills[c]}
    while left:
        best = max(passing, key=lambda c: (len(left.intersection(kills[c])), -passing.index(c)))
        gain = [m for m in kills[best] if m in left]
        if not gain:
            break
        chosen.append(Rescued(test=best, kills=gain, cases=len(cases[best])))
        left.difference_update(gain)
    return chosen
