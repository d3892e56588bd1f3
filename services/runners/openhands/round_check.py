"""One round's hand-over and check: the accepted part of the agent's changes on a fresh extraction of the snapshot,
its tests judged one by one (the dropped ones leave the files and the patch), then validation of what is kept."""

from __future__ import annotations

import asyncio
import functools
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from handoff.artifacts.settings import artifact_max_bytes_from_env
from handoff.assurance.errors import AssuranceError
from handoff.common.secrets import Redactor
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import changes
from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.assure import Assurance
from handoff.runners.openhands.changes import ChangePolicy, ChangeSet
from handoff.runners.openhands.outputs import existing_tests_suffice
from handoff.runners.openhands.secret_scan import SecretScanner
from handoff.runners.openhands.settings import RunnerSettings
from handoff.runners.openhands.validation import (
    COLLECTION_BROKEN,
    ValidationReport,
    collection_problem,
    select_test_files,
    validate,
)
from handoff.sandbox import Sandbox
from handoff.schemas.events import ErrorCode, GenerateTests


@dataclass(frozen=True, slots=True)
class HandOver:
    """What one round hands over: the clean copy with the accepted changes, their patch, and the screening."""

    tree: Path
    patch: bytes
    changes: ChangeSet


@dataclass(slots=True)
class RoundCheck:
    """Hands each round over and checks it, for one task (its directories, environment and assurance state)."""

    payload: GenerateTests
    settings: RunnerSettings
    dirs: ws.TaskDirs
    env: dict[str, str]
    assurance: Assurance
    sandbox: Sandbox
    redact: Redactor
    emit: Callable[[str, str], None]
    materialize: Callable[[Path], Awaitable[None]]  # a fresh extraction of the task's snapshot into a folder
    snapshot_collection: int | None = None  # pytest's exit code collecting the snapshot, once it was needed
    written: bytes = b""  # the last round's patch as the generator wrote it, before its tests were judged

    async def check(
        self, round_no: int, *, keep: set[Path], coverage_required: bool = True
    ) -> tuple[HandOver, ValidationReport]:
        """Hand the round over, judge its tests one by one (the dropped ones leave the files and the patch), and
        validate what is kept; the coverage goal is judged on line+branch coverage over the existing tests."""
        payload, emit, dirs, assurance = self.payload, self.emit, self.dirs, self.assurance
        handed = await self.hand_over(round_no, keep=keep)
        self.written = handed.patch
        test_files = select_test_files(handed.changes.accepted, payload.test_dir)
        judged = None
        if test_files:
            emit("assurance", f"round {round_no}: judging the tests of {len(test_files)} file(s) one by one")
            try:
                judged = await assurance.judge(round_no, handed.tree, dirs.clean_git(round_no), test_files,
                                               handed.changes, coverage_required=coverage_required)  # fmt: skip
            except AssuranceError as err:
                report = ValidationReport(ok=False, problem=f"the tests could not be judged: {err}",
                                          output=getattr(err, "output", ""), test_files=test_files)  # fmt: skip
                emit("validation", report_line(round_no, report))
                return handed, report
            if not judged.test_files and assurance.existing_tests_meet(payload.coverage_goal_pct):
                assurance.keep(judged)  # nothing: the final coverage is the baseline
                report = ValidationReport(ok=True, coverage=assurance.existing_coverage(), existing_tests_suffice=True)
                emit(
                    "validation",
                    f"round {round_no}: " + existing_tests_suffice(payload.coverage_goal_pct, written=True),
                )
                return HandOver(tree=handed.tree, patch=b"", changes=replace(handed.changes, accepted=[])), report
            if not judged.test_files:  # the round's own patch stays, for the failure's record
                problem, listing = assurance.nothing_kept(judged, payload.coverage_goal_pct)
                report = ValidationReport(ok=False, problem=problem, output=listing, test_files=test_files)
                emit("validation", report_line(round_no, report))
                return handed, report
            handed = HandOver(tree=handed.tree, patch=judged.patch, changes=judged.changes)
            test_files = judged.test_files
            selection, run_whole = await asyncio.to_thread(assurance.selection, judged, handed.tree)
        else:  # no test written: the project's own tests may already meet the goal (then there is nothing to add)
            selection, run_whole = [], []
            await assurance.measure_baseline(handed.tree)
            if assurance.existing_tests_meet(payload.coverage_goal_pct):
                report = ValidationReport(ok=True, coverage=assurance.existing_coverage(), existing_tests_suffice=True,
                                          no_test_written=True)  # fmt: skip
                emit("validation", f"round {round_no}: no test written; "
                                   + existing_tests_suffice(payload.coverage_goal_pct))  # fmt: skip
                return HandOver(tree=handed.tree, patch=b"", changes=replace(handed.changes, accepted=[])), report
            reach = assurance.existing_reach(payload.coverage_goal_pct)  # the failure says what the tests miss
            report = ValidationReport(ok=False, problem="no test files were written", output=reach)
            emit("validation", f"round {round_no}: no test written; {reach or 'no coverage data'}")
            return handed, report
        emit("validation", f"round {round_no}: running {len(test_files)} test file(s) on a clean copy")
        report = await self._validate(handed.tree, test_files, selection=selection, run_whole=run_whole)
        if report.ok:
            report = await self.whole_collection(handed.tree, report)
        if report.ok and judged is not None:
            assurance.keep(judged)
            report = replace(report, gaps=assurance.gaps(payload.coverage_goal_pct))
        elif judged is not None:  # the failure's detail says what the filters kept and dropped, and from where
            report = replace(report, judgement=assurance.failed_round(judged, payload.coverage_goal_pct))
        emit("validation", report_line(round_no, report))
        return handed, report

    async def rescue(self, tree: Path) -> tuple[bytes, ChangeSet, list[str], int] | None:
        """The mutation rescue of the scored round in ``tree`` (``Assurance.rescue``), then what it hands over
        validated as a round is, on the clean copy: the test files run whole (the kept tests, the re-admitted ones and
        the project's own tests of the files they extend), then the project's whole collection. A re-admitted test
        that fails there is dropped again, and the rest are validated once more; when that fails too, or the failing
        tests cannot be named, every re-admitted test is dropped again. None: nothing re-admitted."""
        assurance = self.assurance
        found = await assurance.rescue(tree)
        if found is None or assurance.latest_rescue is None:
            return None
        for last_try in (False, True):
            report = await self._validate_rescued(tree, found[2])
            if report.ok:
                return found
            rescued = [r.test for r in assurance.latest_rescue[1].rescued]
            failing = {} if last_try else report.failing(rescued)
            if failing:
                said = "fails beside the other tests of its file and the kept tests, though it passes alone"
                why = {
                    test: f"{said} (order-dependent): {said_why or report.problem}"
                    for test, said_why in failing.items()
                }
            else:
                said = "dropped again with the other re-admitted tests: the hand-over with them failed validation"
                why = {test: f"{said}: {report.problem}" for test in rescued}
            found = await assurance.drop_rescued(tree, why)
            if not assurance.latest_rescue[1].rescued:
                break  # the scored round's files, as its validation ran them
        return found

    async def _validate_rescued(self, tree: Path, test_files: list[str]) -> ValidationReport:
        self.emit("validation", f"mutation rescue: running {len(test_files)} test file(s) on the clean copy")
        report = await self._validate(tree, test_files)
        return await self.whole_collection(tree, report) if report.ok else report

    async def _validate(
        self, tree: Path, test_files: list[str], *, selection: Sequence[str] = (), run_whole: Sequence[str] = ()
    ) -> ValidationReport:
        """``validate`` of ``test_files`` in ``tree`` on the clean copy, with this task's targets, goal and limits."""
        return await validate(
            dirs=self.dirs,
            tree=tree,
            python=self.assurance.python,
            env=self.env,
            test_files=test_files,
            targets=self.payload.targets,
            goal_pct=self.payload.coverage_goal_pct,
            timeout_s=self.settings.pytest_timeout_s,
            max_output_chars=self.settings.max_output_chars,
            sandbox=self.sandbox,
            selection=selection,
            run_whole=run_whole,
        )

    async def whole_collection(self, tree: Path, report: ValidationReport) -> ValidationReport:
        """``report``, or a failed one when the project's own ``pytest`` (its whole default collection, the kept
        files in it) stops collecting while it did not on the snapshot: test modules of one basename in folders
        without ``__init__.py`` ("import file mismatch") or a kept conftest that breaks the others."""
        collect = functools.partial(collection_problem, python=self.assurance.python, env=self.env,
                                    writable=[self.dirs.validation, *self.dirs.writable],
                                    timeout_s=self.settings.pytest_timeout_s, sandbox=self.sandbox)  # fmt: skip
        code, errors = await collect(tree=tree)
        if code not in COLLECTION_BROKEN:
            return report
        if self.snapshot_collection is None:
            snapshot = self.dirs.validation / "snapshot-collection"
            await asyncio.to_thread(shutil.rmtree, snapshot, True)
            await self.materialize(snapshot)
            self.snapshot_collection = (await collect(tree=snapshot))[0]
            await asyncio.to_thread(shutil.rmtree, snapshot, True)
        if self.snapshot_collection in COLLECTION_BROKEN:
            return report  # the project's collection was broken before: not the kept tests' doing
        problem = (f"with the kept tests the project's own pytest run no longer collects (exit code {code}; it did "
                   f"on the snapshot): {errors or 'no error lines'}")  # fmt: skip
        return replace(report, ok=False, problem=problem)

    async def hand_over(self, round_no: int, *, keep: set[Path]) -> HandOver:
        """A fresh extraction of the snapshot (never anything the agent could write), the accepted part of the
        agent's changes applied to it, and the patch between the two. The previous round's copy is removed
        unless it is in ``keep`` (the best validated round so far)."""
        dirs, env = self.dirs, self.env
        if round_no > 1 and not self.settings.keep_workspaces and dirs.clean(round_no - 1) not in keep:
            await asyncio.to_thread(shutil.rmtree, dirs.clean(round_no - 1), True)
            await asyncio.to_thread(shutil.rmtree, dirs.clean_git(round_no - 1), True)
        clean = dirs.clean(round_no)
        await self.materialize(clean)
        policy = ChangePolicy(
            test_dir=self.payload.test_dir,
            allow_source=self.settings.allow_source_changes,
            max_file_bytes=artifact_max_bytes_from_env(),
            scanner=SecretScanner(self.redact),
        )

        def hand_over() -> HandOver:
            found = changes.screen(dirs.workspace, clean, policy)
            paths = [change.path for change in found.accepted]
            ws.record_tree(dirs.clean_git(round_no), clean, env, paths)
            changes.apply(found.accepted, dirs.workspace, clean)
            patch = ws.diff_tree(dirs.clean_git(round_no), clean, env, paths)
            return HandOver(tree=clean, patch=patch, changes=found)

        try:
            handed = await asyncio.to_thread(hand_over)
        except (ws.WorkspaceError, OSError) as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, f"handing over round {round_no} failed: {err}") from err
        if handed.changes.refused:
            self.emit("changes", f"round {round_no}: left out of the patch: {handed.changes.describe()}")
        return handed


def report_line(round_no: int, report: ValidationReport) -> str:
    cov = ", ".join(f"{c.target} {c.percent:g} %" for c in report.coverage) or "no coverage data"
    if report.ok:
        return f"round {round_no}: {report.passed}/{report.collected} tests passed; coverage {cov}"
    return f"round {round_no}: failed: {report.problem}; {report.passed}/{report.collected} passed; coverage {cov}"
