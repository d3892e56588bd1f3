"""Assured tests in the runner: after each round the generated tests are judged one by one on the clean copy
(services/assurance), the dropped ones are cut from the files and the patch, coverage is a line+branch delta over
the project's existing tests, and the kept suite is scored against mutants once at the end.

Every command runs with the project's interpreter inside the task's sandbox: the clean copy, the scratch
directory and the task's HOME and TMPDIR are its only writable places.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec

from handoff.assurance import coverage_delta, existing_suite, generated_source, project_tests, results
from handoff.assurance.coverage_runs import TargetCoverage
from handoff.assurance.errors import AssuranceError
from handoff.assurance.execute import Exec, subprocess_exec
from handoff.assurance.figures import coverage_words
from handoff.assurance.filters import adds_no_coverage, judge_tests
from handoff.assurance.mutation import MutationReport, mutation_score
from handoff.assurance.rescue import Rescued, RescueReport, rescored, rescue_tests
from handoff.assurance.settings import AssuranceSettings
from handoff.assurance.testbed import TestBed
from handoff.common.text import clipped
from handoff.runners.openhands import judged_files, verdicts
from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.changes import ChangeSet
from handoff.runners.openhands.judged_files import Judged
from handoff.sandbox import Sandbox
from handoff.schemas.events import DroppedTest, RoundCounts, TargetQuality, Verdict
from handoff.schemas.events import TargetCoverage as WireCoverage


def sandboxed_exec(sandbox: Sandbox, writable: Sequence[Path]) -> Exec:
    """An ``Exec`` that starts every command in a fresh sandbox where its directory and ``writable`` can be written."""

    async def run(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout_s: float) -> tuple[int | None, str]:
        launch = sandbox.command(argv, cwd=cwd, env=env, writable=[cwd, *writable])
        return await subprocess_exec(launch.argv, launch.cwd, launch.env, timeout_s)

    return run


@dataclass(slots=True)
class Assurance:
    """What the filters decided over a task's rounds, its coverage delta and its mutation score."""

    dirs: ws.TaskDirs
    python: Path
    env: Mapping[str, str]
    sandbox: Sandbox
    settings: AssuranceSettings
    targets: Sequence[str]
    emit: Callable[[str, str], None]
    redact: Callable[[str], str] = str  # applied to every reason (pytest's messages may quote anything)
    kept: list[str] = field(default_factory=list)  # node ids kept so far (later rounds only add to it)
    dropped: dict[str, DroppedTest] = field(default_factory=dict)  # test -> why (the latest judgement)
    round_counts: list[RoundCounts] = field(default_factory=list)
    baseline: dict[str, TargetCoverage] | None = None  # the project's existing tests, measured once
    baseline_problem: str = ""  # why the baseline is not the project's suite (its tests did not collect or run)
    baseline_failures: str = ""  # how many of the project's tests failed in the baseline run, the first named
    final: dict[str, TargetCoverage] | None = None  # ... plus the kept tests of the best round
    mutation: MutationReport | None = None
    mutation_problem: str = ""
    last: Judged | None = None  # the latest validated round (the one scored)
    rescued: list[Rescued] = field(default_factory=list)  # dropped coverage-free tests re-admitted for mutants
    rescue_note: str = ""  # what the latest rescue left out or could not check (its budget ran out, ...)
    latest_rescue: tuple[MutationReport, RescueReport] | None = None  # the score it started from, what it found

    def bed(self, tree: Path) -> TestBed:
        scratch = self.dirs.assurance
        writable = [scratch, *self.dirs.writable]
        return TestBed(root=tree, python=self.python, scratch=scratch, env=dict(self.env),
                       exec=sandboxed_exec(self.sandbox, writable),
                       timeout_s=self.settings.command_timeout_s)  # fmt: skip

    async def judge(
        self,
        round_no: int,
        tree: Path,
        git_dir: Path,
        test_files: Sequence[str],
        changes: ChangeSet,
        *,
        coverage_required: bool = True,
    ) -> Judged:
        """Judge the round's tests in ``tree`` (rewriting its files) and re-make the patch of what is left."""
        bed = self.bed(tree)
        originals = await asyncio.to_thread(self._originals, git_dir, tree, test_files, changes)
        # judged, validated and handed over tidied (names, engines' messages): what is checked is what is handed over
        await asyncio.to_thread(judged_files.tidy_generated, tree, test_files, originals, self.targets)
        sources = await asyncio.to_thread(judged_files.texts, tree, test_files)
        own = await self._project_tests(bed, originals)
        report = await judge_tests(bed, test_files, self.targets, settings=self.settings,
                                   already_kept=self.kept, seed=round_no, existing=own,
                                   coverage_required=coverage_required,
                                   project_versions=judged_files.decoded(originals),
                                   dropped_before=None if coverage_required else self._dropped_before())  # fmt: skip
        # a project test file the generator extended and whose additions were all dropped is put back as it was
        restored = await asyncio.to_thread(judged_files.restore_unextended, tree, originals)
        if self.baseline is None:  # the first judgement has no kept tests yet: its baseline is the existing tests
            self.baseline = dict(report.baseline)
            self._baseline_said(report.baseline_problem, report.baseline_failures)
        counts = results.round_counts(round_no, report)
        self.round_counts.append(counts)
        for dropped in results.dropped_tests(report):
            self.dropped[dropped.test] = msgspec.structs.replace(dropped, reason=self.redact(dropped.reason))
        for test in results.kept_tests(report):
            self.dropped.pop(test, None)
        # a generated file whose every test was dropped is gone: it leaves the change set and the patch
        accepted = [c for c in changes.accepted
                    if (c.status != "A" or (tree / c.path).exists()) and c.path not in restored]  # fmt: skip
        patch = await asyncio.to_thread(ws.diff_tree, git_dir, tree, self.env, [c.path for c in accepted])
        left = [name for name in test_files if (tree / name).exists() and name not in restored]
        # measured on the files as a whole: the filters' per-test figures leave out what runs at import time
        final = await coverage_delta.final_coverage(bed, left, self.targets, self.baseline)
        self.emit("assurance", f"round {round_no}: kept {counts.kept}, failed {counts.failed}, "
                               f"flaky {counts.flaky}, useless {counts.useless}")  # fmt: skip
        return Judged(test_files=left, patch=patch, changes=replace(changes, accepted=accepted), counts=counts,
                      report=report, final=final, sources=sources, originals=originals, git_dir=git_dir,
                      handed_changes=changes)  # fmt: skip

    def _originals(
        self, git_dir: Path, tree: Path, test_files: Sequence[str], changes: ChangeSet
    ) -> dict[str, tuple[bytes, list[str]]]:
        """Per test file the round modified (not added): the snapshot's version and the test functions it had."""
        modified = {c.path for c in changes.accepted if c.status == "M"}
        found = {}
        for name in test_files:
            if name not in modified:
                continue
            original = ws.recorded_file(git_dir, tree, self.env, name)
            if original is None:
                continue
            try:
                names = [t.qualname for t in generated_source.find_tests(original.decode())]
            except (SyntaxError, ValueError, UnicodeDecodeError):
                names = []
            found[name] = (original, names)
        return found

    async def _project_tests(self, bed: TestBed, originals: Mapping[str, tuple[bytes, list[str]]]) -> list[str]:
        """The project's own tests in the extended files, as pytest collects the snapshot's versions (inherited
        methods included); the functions their source shows when a version does not collect."""
        own: list[str] = []
        for name, (original, names) in originals.items():
            collected = await project_tests.collected_tests(bed, name, original)
            own += collected if collected is not None else [f"{name}::{q.replace('.', '::')}" for q in names]
        return own

    def selection(self, judged: Judged, tree: Path) -> tuple[list[str], list[str]]:
        """The tests validation counts and measures, so that its figures are the kept tests' alone: each generated
        file as a whole, and of each project test file the generator extended, the node ids of the kept tests in it
        (this round's and earlier rounds'). Second, the extended files named whole instead, project tests included:
        those whose tests cannot be read (they do not parse) or that hold none of the kept tests."""
        kept = [*self.kept, *(t for t in results.kept_tests(judged.report) if t not in self.kept)]
        selection: list[str] = []
        whole: list[str] = []
        for name in judged.test_files:
            if name not in judged.originals:
                selection.append(name)
                continue
            present = judged_files.tests_in(tree, name)
            ids = [t for t in kept if t in present]
            if not ids:
                whole.append(name)
            selection += ids or [name]
        return selection, whole

    def _dropped_before(self) -> dict[str, tuple[Verdict, str]]:
        return {test: (d.verdict, d.reason) for test, d in self.dropped.items()}

    def keep(self, judged: Judged) -> None:
        """The round validated: its kept tests join the baseline of later rounds' judgements."""
        self.kept += [t for t in results.kept_tests(judged.report) if t not in self.kept]
        self.final = dict(judged.final)
        self.last = judged

    def gaps(self, goal_pct: float, final: Mapping[str, TargetCoverage] | None = None) -> list[str]:
        """Uncovered lines and branches of each target under the line+branch goal."""
        return coverage_delta.gaps(self.deltas(final), goal_pct)

    def deltas(self, final: Mapping[str, TargetCoverage] | None = None) -> list[coverage_delta.TargetDelta]:
        """Per target the baseline and ``final`` (default: the kept tests' final coverage; the baseline itself
        while nothing was kept, e.g. a round that wrote no test where the project's tests meet the goal)."""
        if final is None:
            final = self.final if self.final is not None else self.baseline
        return coverage_delta.deltas(self.baseline or {}, final or {}, self.targets)

    async def score(self, tree: Path) -> MutationReport | None:
        """The kept suite against the targets' mutants within the budget; None when off or nothing is kept."""
        if not self.settings.mutation_enabled or not self.kept:
            return None
        self.emit("assurance", f"mutation testing of {len(self.kept)} kept test(s), "
                               f"budget {self.settings.mutation_budget_s:g} s")  # fmt: skip
        try:
            report = await mutation_score(self.bed(tree), self.kept, self.targets,
                                          budget_s=self.settings.mutation_budget_s)  # fmt: skip
        except AssuranceError as err:
            self.mutation_problem = f"mutation testing failed: {err}"
            self.emit("assurance", self.mutation_problem)
            return None
        self.mutation = report
        line = ", ".join(f"{s.target} {s.killed}/{s.total}" for s in report.scores)
        self.emit("assurance", f"mutants killed: {line}" + (f" ({report.note})" if report.note else ""))
        return report

    async def rescue(self, tree: Path) -> tuple[bytes, ChangeSet, list[str], int] | None:
        """Re-admit tests of the scored round dropped only for adding no coverage that kill surviving mutants, within
        ``mutation_rescue_budget_s``; they are written back into ``tree``. The new patch, change set, test files
        and number of test cases added, or None when nothing was re-admitted."""
        judged, report, budget_s = self.last, self.mutation, self.settings.mutation_rescue_budget_s
        self.rescue_note = ""
        if judged is None or judged.git_dir is None or report is None or budget_s <= 0:
            return None
        candidates = [j.test for j in judged.report.judgements if adds_no_coverage(j) and "::" in j.test]
        survivors = sum(len(s.survivors) for s in report.scores)
        if not candidates or not survivors:
            return None
        self.emit("assurance", f"mutation rescue: trying the {len(candidates)} test(s) dropped for adding no coverage "
                               f"against {survivors} surviving mutant(s), budget {budget_s:g} s")  # fmt: skip
        files = {test.split("::", 1)[0] for test in candidates}
        sources = {name: text for name, text in judged.sources.items() if name in files}
        try:
            found = await rescue_tests(
                self.bed(tree),
                report,
                candidates,
                sources,
                budget_s=budget_s,
                generated_files=list(judged.sources),
                project_versions=judged_files.decoded(judged.originals),
            )
        except AssuranceError as err:
            self.rescue_note = self.redact(f"failed: {err}")
            self.emit("assurance", f"mutation rescue failed: {err}")
            return None
        self.rescue_note = self.redact(found.note)
        if found.note:
            self.emit("assurance", f"mutation rescue: {found.note}")
        if not found.rescued:
            self.emit(
                "assurance",
                "mutation rescue: no test re-admitted: none kills a mutant both the kept tests and "
                f"the project's own tests were run against and miss ({found.tried} mutant(s) run)",
            )
            return None
        self.latest_rescue = (report, found)
        self._admit(report, found)
        return await self._rescued_files(tree, judged, {r.test for r in found.rescued})

    async def drop_rescued(self, tree: Path, failing: Mapping[str, str]) -> tuple[bytes, ChangeSet, list[str], int]:
        """Drop again the tests of the latest rescue in ``failing`` (test -> why), with verdict ``failed``: the others
        are chosen again among themselves (their kills re-counted), their files re-written. As ``rescue``; with none
        left, the files as the scored round handed them over."""
        judged, latest = self.last, self.latest_rescue
        if judged is None or latest is None:
            raise ValueError("no rescue to drop tests from")
        report, found = latest
        before = {r.test for r in found.rescued}
        self.rescued = [r for r in self.rescued if r.test not in before]
        self.kept = [t for t in self.kept if t not in before]
        kept = found.without(failing)
        for test, why in failing.items():
            self.dropped[test] = DroppedTest(test=test, verdict=Verdict.FAILED, reason=self.redact(why))
            self.emit("assurance", f"re-admitted test dropped again: {test}: {self.redact(why)}")
        said = f"{len(failing)} re-admitted test(s) dropped again: they fail beside the tests of their files"
        self.rescue_note = "; ".join(note for note in (self.rescue_note, said) if note)
        self.latest_rescue = (report, kept)
        self._admit(report, kept, said=before)  # the others were said re-admitted already (kills re-counted)
        rescued = {r.test for r in kept.rescued}
        return await self._rescued_files(tree, judged, rescued, also=before - rescued)

    def _admit(self, report: MutationReport, found: RescueReport, said: AbstractSet[str] = frozenset()) -> None:
        """The re-admitted tests join the kept ones, and their kills the score; the progress says each once (not
        again for those in ``said``)."""
        self.rescued += found.rescued
        self.mutation = rescored(report, found)
        for r in found.rescued:
            self.dropped.pop(r.test, None)
            self.kept.append(r.test)
            if r.test not in said:
                self.emit("assurance", f"re-admitted {r.test}: {r.reason}")

    async def _rescued_files(
        self, tree: Path, judged: Judged, rescued: set[str], also: AbstractSet[str] = frozenset()
    ) -> tuple[bytes, ChangeSet, list[str], int]:
        """``rescued`` written back into ``tree`` (``also`` taken out again): the new patch, change set, test files and
        number of re-admitted test cases."""
        restored = await asyncio.to_thread(judged_files.write_back, tree, judged, rescued, also)
        accepted = [c for c in judged.handed_changes.accepted
                    if (c.status != "A" or (tree / c.path).exists()) and c.path not in restored]  # fmt: skip
        assert judged.git_dir is not None
        # the files taken out again were staged as the earlier rescue wrote them: they are staged again as they are
        again = {test.split("::", 1)[0] for test in also} | restored if also else set()
        paths = sorted({c.path for c in accepted} | again)
        patch = await asyncio.to_thread(ws.diff_tree, judged.git_dir, tree, self.env, paths)
        test_files = sorted({c.path for c in accepted} & set(judged.sources))
        cases = sum(r.cases for r in self.rescued if r.test in rescued)
        return patch, replace(judged.handed_changes, accepted=accepted), test_files, cases

    def mutation_short(self, goal_pct: float | None) -> list[str]:
        """The targets whose mutation score is under ``goal_pct`` (none when there is no goal or no score)."""
        if goal_pct is None or self.mutation is None:
            return []
        return [s.target for s in self.mutation.scores if s.score_pct is not None and s.score_pct < goal_pct]

    def mutation_unmeasured(self, goal_pct: float | None) -> str:
        """Why the mutation goal was not measured on every target; '' when there is no goal or every target has a
        score. A goal not measured is never counted as met."""
        if goal_pct is None:
            return ""
        if not self.settings.mutation_enabled:
            return "mutation testing is off (HANDOFF_MUTATION_BUDGET_S=0)"
        if self.mutation is None:
            if not self.kept:
                return "nothing was added: no kept test to run against the mutants"
            return self.mutation_problem or "no mutation score was recorded"
        report, budget_s = self.mutation, self.settings.mutation_budget_s
        said = []
        for s in report.scores:
            if s.score_pct is not None:
                continue
            if not s.generated:
                said.append(f"{s.target}: cosmic-ray made no mutant of it")
            elif report.sampled or report.budget_exhausted:
                said.append(f"{s.target}: none of its {s.generated} mutant(s) ran within the {budget_s:g} s budget")
            else:
                said.append(f"{s.target}: none of its {s.generated} mutant(s) ran to a verdict")
        return "; ".join(said)

    def quality(self) -> list[TargetQuality]:
        if self.baseline is None:
            return []
        return results.target_quality(self.deltas(), self.mutation)

    def tests_dropped(self) -> list[DroppedTest]:
        return [d for test, d in sorted(self.dropped.items()) if test not in self.kept][:500]

    def summary(self, mutation_goal_pct: float | None) -> str:
        """What people read: coverage before and after, mutation score, kept and dropped tests with reasons."""
        parts = []
        for q in self.quality():
            text = f"{q.target}: {coverage_words(q)}"
            if q.mutation_score_pct is not None:
                text += f", mutants killed {q.mutants_killed}/{q.mutants_total} ({q.mutation_score_pct:g} %)"
            parts.append(text)
        if parts:
            before = existing_suite.baseline_words(self.baseline_problem)
            parts = [f"Coverage ({before} -> with the kept tests): " + "; ".join(parts) + "."]
        if self.mutation is not None and self.mutation.note:
            parts.append(f"Mutation: {self.mutation.note}.")
        if self.rescued:
            shown = "; ".join(f"{r.test} ({r.reason})" for r in self.rescued[:10])
            parts.append(f"Re-admitted for the mutants they kill: {len(self.rescued)} test(s): {shown}.")
        if self.rescue_note:
            parts.append(f"Mutation rescue: {self.rescue_note}.")
        if self.mutation_problem:
            parts.append(self.mutation_problem + ".")
        short = self.mutation_short(mutation_goal_pct)
        if short:
            parts.append(f"Mutation goal {mutation_goal_pct:g} % not met: {', '.join(short)}.")
        unmeasured = self.mutation_unmeasured(mutation_goal_pct)
        if unmeasured:
            parts.append(f"Mutation goal {mutation_goal_pct:g} % not measured: {unmeasured}.")
        dropped = self.tests_dropped()
        parts.append(f"Tests kept: {len(self.kept)}, dropped: {len(dropped)}.")
        if dropped:
            shown = "; ".join(f"{d.test} ({d.verdict.value}: {clipped(d.reason, 120)})" for d in dropped[:10])
            parts.append(f"Dropped: {shown}{f' and {len(dropped) - 10} more' if len(dropped) > 10 else ''}.")
        return " ".join(parts)

    async def measure_baseline(self, tree: Path) -> None:
        """The project's own tests' coverage, when no judgement measured it (a round that wrote no test file)."""
        if self.baseline is not None:
            return
        own = await coverage_delta.existing_coverage(self.bed(tree), [], self.targets)
        self.baseline = dict(own.coverage)
        self._baseline_said(own.problem, existing_suite.failures(own.failed, own.ran))

    def _baseline_said(self, problem: str, failures: str) -> None:
        """Record why the baseline is not (all of) the project's suite and which of its tests failed, and say so."""
        self.baseline_problem, self.baseline_failures = self.redact(problem), self.redact(failures)
        for said in (self.baseline_problem, self.baseline_failures):
            if said:
                self.emit("assurance", f"baseline: {said}")

    def existing_tests_meet(self, goal_pct: float) -> bool:
        """Nothing kept so far, and the project's own tests alone reach the coverage goal on every target."""
        if self.kept or self.baseline is None:
            return False
        return not coverage_delta.gaps(self.deltas(self.baseline), goal_pct)

    def existing_coverage(self) -> list[WireCoverage]:
        """The targets' line coverage by the project's own tests, as validation reports it for kept tests."""
        baseline = self.baseline or {}
        return [
            WireCoverage(target=t, percent=cov.line_pct, covered_lines=len(cov.executed & cov.statements),
                         total_lines=len(cov.statements))
            for t in self.targets
            for cov in [baseline.get(t, TargetCoverage())]
        ]  # fmt: skip

    def existing_reach(self, goal_pct: float) -> str:
        """What the project's existing tests (and the tests kept so far) reach on each target against the goal."""
        return verdicts.reach(self.deltas(self.baseline), goal_pct, whose=self._whose(), met_too=True)

    def nothing_kept(self, judged: Judged, goal_pct: float) -> tuple[str, str]:
        """The problem of a round whose tests were all dropped, and a listing of each test and why, then what the
        project's existing tests (and the tests kept so far) still miss (last: `handoff result` shows the end)."""
        reasons = [j for j in judged.report.judgements if j.verdict != Verdict.KEPT]
        listed = verdicts.listing(reasons, self.redact)
        reach = verdicts.reach(self.deltas(judged.report.baseline), goal_pct, whose=self._whose(), met_too=False)
        lines = [f"Every test was dropped:\n{listed}", reach, self.baseline_note()]
        return f"no test was kept ({len(reasons)} dropped)", "\n".join(line for line in lines if line)

    def failed_round(self, judged: Judged, goal_pct: float) -> str:
        """For a round whose kept tests then failed validation (a test of the run failed, or the project's whole
        collection broke): each test's verdict, what the project's existing tests (and the tests kept so far)
        reach, and what the round's kept tests would have added (the baseline's note is the detail's own line)."""
        before = verdicts.reach(self.deltas(judged.report.baseline), goal_pct, whose=self._whose(), met_too=True)
        after = verdicts.reach(self.deltas(judged.final), goal_pct, whose="tests with this round's kept ones",
                               met_too=True)  # fmt: skip
        head = f"The round's tests, judged one by one before this run: {verdicts.counts_line(judged.counts)}:"
        lines = [head, verdicts.listing(judged.report.judgements, self.redact), before, after]
        return "\n".join(line for line in lines if line)

    def _whose(self) -> str:
        return "existing tests and the tests kept so far" if self.kept else "existing tests"

    def baseline_note(self) -> str:
        """'' when the baseline is the project's own suite and all of it passed, else the sentences every report of
        the task carries: why it is not the suite, and the project's tests that failed in it."""
        said = (self.baseline_problem, self.baseline_failures)
        return " ".join(f"Baseline: {sentence}." for sentence in said if sentence)
