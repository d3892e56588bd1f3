"""Mutation rescue: tests the filters dropped only for adding no coverage are run against the mutants that
survived the kept tests, and the ones that kill some are re-admitted (a sharper assertion on a covered line).

Each surviving mutant is applied from cosmic-ray's own diff of the module in a private copy of the tree (a mutant
whose diff does not apply to the file as it is is left out), every candidate runs in one pytest session against
it, and the file is put back. A mutant some candidate kills is at once run against the project's own tests (as the
baseline runs them, the generated files left out): one they kill too is no reason to hand a test over, and
neither is one the budget leaves no time to run them against. The candidates that kill the most of the remaining
survivors not yet killed are re-admitted first.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from handoff.assurance import existing_suite
from handoff.assurance.errors import CommandTimedOut
from handoff.assurance.mutation import Mutant, MutationReport
from handoff.assurance.testbed import MUTANTS_PLUGIN, TestBed

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
    kills: dict[str, list[Mutant]] = field(default_factory=dict)  # every passing candidate's kills, before the choice
    cases: dict[str, list[str]] = field(default_factory=dict)  # ... and its node ids
    shared: dict[str, list[Mutant]] = field(default_factory=dict)
    """Each passing candidate's other kills: mutants the project's own tests kill too (or were not run against).
    No reason to re-admit a test, but a re-admitted test kills them all the same, and its score says so."""

    @property
    def killed(self) -> set[Mutant]:
        """The mutants the re-admitted tests were re-admitted for."""
        return {m for r in self.rescued for m in r.kills}

    @property
    def killed_by_rescued(self) -> set[Mutant]:
        """Every surviving mutant a re-admitted test kills, also those the project's own tests kill."""
        return self.killed | {m for r in self.rescued for m in self.shared.get(r.test, [])}

    def without(self, dropped: Collection[str]) -> RescueReport:
        """The choice made again among the re-admitted tests not in ``dropped`` (none of the others joins): a
        mutant a dropped one was chosen for counts for another that kills it too."""
        left = [r.test for r in self.rescued if r.test not in dropped]
        return replace(self, rescued=_greedy(left, self.kills, self.cases))


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
    written into a private copy of ``bed.root``; the tree itself is not changed. A mutant some candidate kills is
    run against the project's own tests at once, in another copy: ``generated_files`` (besides the sources' files)
    are left out there, except the project's test files they extend: ``project_versions`` (path -> the project's
    text) run as the project wrote them. Only a mutant the project's tests were run against and missed counts as a
    kill; when the budget runs out before that run, the mutant counts for no candidate and the note says so.
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
    versions = dict(project_versions or {})
    project = _ProjectSuite(bed, versions, sorted({*generated_files, *sources} - set(versions)))
    kills: dict[str, list[Mutant]] = {c: [] for c in passing}
    shared: dict[str, list[Mutant]] = {c: [] for c in passing}
    tried, skipped, theirs, unchecked, note = 0, 0, 0, 0, ""
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
            run = await bounded.pytest(["-p", MUTANTS_PLUGIN, *passing], name="rescue", root=tree)
        except CommandTimedOut:  # a hang cannot be put down to one candidate: no kill is counted
            continue
        finally:
            path.write_text(original)
        tried += 1
        killers = [c for c in passing if any(run.outcomes.get(n) in ("failed", "error") for n in cases[c])]
        if not killers:
            continue
        verdict = await project.kills(mutant, original, mutated, budget_s - (time.monotonic() - started))
        if verdict is not False:  # None (not run against their tests) or True: no reason to re-admit, yet a kill
            for c in killers:
                shared[c].append(mutant)
        if verdict is None:  # the budget ran out (or their suite cannot finish): nothing says a candidate adds it
            unchecked += 1
            note = f"the {budget_s:g} s rescue budget ran out after {tried} of {len(survivors)} surviving mutants"
            if project.problem:
                note = f"{project.problem}: the rescue stopped after {tried} of {len(survivors)} surviving mutants"
            break
        if verdict:
            theirs += 1
            continue
        for c in killers:
            kills[c].append(mutant)
    said = [note] if note else []
    if skipped:
        said.append(f"{skipped} mutant(s) whose diff did not apply were left out")
    if theirs:
        said.append(f"{theirs} mutant(s) a dropped test kills are killed by the project's own tests too")
    if unchecked:
        said.append(f"{unchecked} mutant(s) a dropped test kills were not run against the project's own tests: "
                    "no test is re-admitted for them")  # fmt: skip
    return RescueReport(rescued=_greedy(passing, kills, cases), tried=tried, note="; ".join(said), kills=kills,
                        cases=cases, shared=shared)  # fmt: skip


@dataclass(slots=True)
class _ProjectSuite:
    """The project's own tests, run as the baseline runs them (pytest's default collection with ``ignored`` left
    out, then the test modules its names miss) in a private copy of the tree holding the project's ``versions``
    of the test files the generated tests extend; the copy and a clean run are made before the first mutant."""

    bed: TestBed
    versions: dict[str, str]
    ignored: list[str]
    tree: Path | None = None
    suites: list[list[str]] | None = None  # pytest's arguments of each run
    passed: set[str] = field(default_factory=set)  # their tests that pass on the clean copy
    run_s: float = 0.0  # what the clean runs took
    problem: str = ""  # why no mutant can be run against them

    async def kills(self, mutant: Mutant, original: str, mutated: str, budget_s: float) -> bool | None:
        """Whether a test of theirs that passes on the clean copy fails (or errors, or hangs) with ``mutant``
        (``original`` -> ``mutated``); None when it cannot be known within ``budget_s`` seconds."""
        started = time.monotonic()
        if self.problem or (self.suites is None and not await self._clean(budget_s)):
            return None
        assert self.tree is not None and self.suites is not None
        if not self.passed:  # none of their tests passes: none can fail with a mutant
            return False
        remaining_s = budget_s - (time.monotonic() - started)
        if remaining_s < self.run_s:
            return None
        limit_s = max(10.0, 5 * self.run_s)
        path = self.tree / mutant.target
        path.write_text(mutated)
        try:
            for args in self.suites:
                run = await replace(self.bed, timeout_s=min(limit_s, remaining_s)).pytest(
                    ["-p", MUTANTS_PLUGIN, *args], name="rescue-project", root=self.tree
                )
                if any(run.outcomes.get(node) in ("failed", "error") for node in self.passed):
                    return True
                remaining_s = budget_s - (time.monotonic() - started)
        except CommandTimedOut:  # a hang is the mutant's when the budget did not cut the run short
            return True if remaining_s >= limit_s else None
        finally:
            path.write_text(original)
        return False

    async def _clean(self, budget_s: float) -> bool:
        """Copy the tree and run their tests on it unmutated; False when the budget or the timeout cut it short."""
        started = time.monotonic()
        self.tree = self.bed.copy_tree("rescue-project-tree")
        for name, text in self.versions.items():  # the project's own tests of the files the generated tests extend
            (self.tree / name).write_text(text)
        default = ["--continue-on-collection-errors", *(f"--ignore={name}" for name in self.ignored)]
        limit_s = max(1.0, budget_s - (time.monotonic() - started))
        bounded = replace(self.bed, timeout_s=min(self.bed.timeout_s, limit_s))
        try:
            clean = [await bounded.pytest(default, name="rescue-project-clean", root=self.tree)]
            named = existing_suite.uncollected_suites(self.tree, self.ignored, clean[0])
            if named:
                clean.append(await bounded.pytest(["--continue-on-collection-errors", *named],
                                                  name="rescue-project-clean-named", root=self.tree))  # fmt: skip
        except CommandTimedOut:
            if limit_s > self.bed.timeout_s:  # not the budget: their suite does not finish at all
                self.problem = f"the project's own tests did not finish within {self.bed.timeout_s:g} s"
            return False
        self.suites = [default, *([["--continue-on-collection-errors", *named]] if named else [])]
        self.passed = {node for run in clean for node, outcome in run.outcomes.items() if outcome == "passed"}
        self.run_s = time.monotonic() - started
        return True


def rescored(report: MutationReport, rescue: RescueReport) -> MutationReport:
    """``report`` with the mutants the re-admitted tests kill counted as killed (no longer surviving): those they
    were re-admitted for and those the project's own tests kill too, as the kept tests' kills count."""
    if not rescue.killed:
        return report
    killed = rescue.killed_by_rescued
    scores = [replace(s, killed=s.killed + sum(m in killed for m in s.survivors),
                      survivors=[m for m in s.survivors if m not in killed]) for s in report.scores]  # fmt: skip
    tests = len(rescue.rescued)
    also = len(killed) - len(rescue.killed)
    theirs = f" ({also} of them killed by the project's own tests too)" if also else ""
    note = f"{tests} test(s) dropped for adding no coverage re-admitted: they kill {len(killed)} surviving mutant(s)"
    note += theirs
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
