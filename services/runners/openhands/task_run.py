"""One ``GenerateTests`` task from snapshot to result: workspace, agent rounds, validation, artifacts, cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import nats.errors
import structlog

from schemas.events import ErrorCode, GenerateTests, TestGenerationResult
from services.artifacts.errors import ArtifactTooLarge, BucketMissing, SnapshotCorrupt, SnapshotMissing
from services.artifacts.snapshots import materialize_snapshot
from services.runners.base import PermanentFailure, TaskContext, TransientFailure
from services.runners.openhands import workspace as ws
from services.runners.openhands.outputs import Outputs, store_outputs, summarize
from services.runners.openhands.progress import ProgressPump, Redactor
from services.runners.openhands.prompt import assign_test_files, coverage_prompt, feedback_prompt, task_prompt
from services.runners.openhands.settings import RunnerSettings
from services.runners.openhands.validation import ValidationReport, select_test_files, validate

if TYPE_CHECKING:  # the SDK is imported lazily, on the first task
    from openhands.sdk import LLM

    from services.runners.openhands.conversation import AgentSession

log = structlog.get_logger(__name__)
# a round that ends so does not lose an earlier validated round: the task returns that round's state
ROUND_ENDINGS = frozenset({ErrorCode.MAX_ITERATIONS, ErrorCode.AGENT_STUCK, ErrorCode.BUDGET_EXCEEDED})


@dataclass(frozen=True, slots=True)
class _Validated:
    round_no: int
    report: ValidationReport
    files: dict[str, bytes | None]  # the changed files as they were validated


class TaskRun:
    def __init__(
        self,
        ctx: TaskContext,
        payload: GenerateTests,
        *,
        settings: RunnerSettings,
        llms: Sequence[LLM],
        pump: ProgressPump,
        redact: Redactor,
    ) -> None:
        self.ctx = ctx
        self.payload = payload
        self.settings = settings
        self.llms = llms
        self.pump = pump
        self.redact = redact
        self.dirs: ws.TaskDirs | None = None
        self.session: AgentSession | None = None

    async def execute(self) -> TestGenerationResult:
        try:
            return await self._execute()
        finally:
            await self._cleanup()

    async def _execute(self) -> TestGenerationResult:
        from services.runners.openhands.conversation import AgentSession

        payload, emit = self.payload, self.pump.emit
        dirs = self.dirs = ws.TaskDirs.create(self.settings.workspace_root, self.ctx.task.task_id, self.ctx.attempt)
        emit("workspace", f"materialising snapshot {payload.source.digest[:12]} ({payload.source.files} files)")
        await self._materialize(dirs)
        missing = [t for t in payload.targets if not (dirs.workspace / t).is_file()]
        if missing:
            raise PermanentFailure(ErrorCode.INVALID_TASK, f"targets not in the snapshot: {', '.join(missing)}")
        env = ws.agent_env(dirs, allow=self.settings.agent_env_allow)
        shell = ws.write_shell(dirs, env)
        await asyncio.to_thread(self._baseline, dirs, env)
        assignments = assign_test_files(payload.targets, payload.test_dir)
        session = self.session = AgentSession(
            llms=self.llms,
            dirs=dirs,
            shell=shell,
            emit=emit,
            max_iterations=self.settings.max_iterations,
            max_budget_usd=self.settings.max_budget_usd,
            max_tokens=self.settings.max_tokens,
        )
        feedback = payload.feedback_rounds if payload.feedback_rounds is not None else self.settings.feedback_rounds
        rounds_total = 1 + feedback
        message = await asyncio.to_thread(task_prompt, payload, dirs.workspace, assignments)  # reads the tree
        report = ValidationReport(ok=False, problem="not validated")
        changes: list[ws.Change] = []
        best: _Validated | None = None  # never lose a validated round
        stopped: PermanentFailure | None = None
        round_no = 0
        for round_no in range(1, rounds_total + 1):
            emit("round", f"agent round {round_no} of {rounds_total} ({session.model})")
            try:
                await session.run_round(message)
            except PermanentFailure as err:
                if best is None or err.code not in ROUND_ENDINGS:
                    raise
                stopped = err
                break
            _patch, changes = await asyncio.to_thread(ws.diff_against_baseline, dirs, env)
            test_files = select_test_files(changes, payload.test_dir)
            emit("validation", f"round {round_no}: running {len(test_files)} test file(s) with coverage")
            report = await validate(
                dirs=dirs,
                env=env,
                test_files=test_files,
                targets=payload.targets,
                goal_pct=payload.coverage_goal_pct,
                timeout_s=self.settings.pytest_timeout_s,
                max_output_chars=self.settings.max_output_chars,
            )
            emit("validation", _report_line(round_no, report))
            if report.ok:
                best = _Validated(round_no, report, await asyncio.to_thread(ws.changed_files, dirs, changes))
            if report.goal_met or round_no == rounds_total:
                break
            if report.ok:
                message = coverage_prompt(
                    round_no=round_no, rounds_total=rounds_total, gaps=report.gaps, goal_pct=payload.coverage_goal_pct
                )
            else:
                message = feedback_prompt(
                    round_no=round_no, rounds_total=rounds_total, problem=report.problem, output=report.output
                )
        usage = session.usage()
        fallback = ""
        if best is not None and (stopped is not None or not report.ok):
            why = f"ended by {stopped.code.value}" if stopped else f"failed validation ({report.problem})"
            fallback = f" Round {round_no} {why}; this is round {best.round_no}'s validated state."
            emit("round", fallback.strip())
            await asyncio.to_thread(self._restore, dirs, env, best.files)
            report = best.report
        outputs = await self._store(dirs, env, report)
        if not report.ok:
            self._fail(report, outputs, changes, round_no)
        summary = summarize(report, outputs, rounds_used=round_no, rounds_total=rounds_total,
                            goal_pct=payload.coverage_goal_pct, label=self.settings.label)  # fmt: skip
        summary += fallback
        emit("result", summary)
        return TestGenerationResult(
            summary=self.redact(summary),
            files_produced=bool(outputs.changes),
            files=outputs.files,
            patch=outputs.patch,
            test_files=report.test_files,
            tests_collected=report.collected,
            tests_passed=report.passed,
            tests_failed=report.failed,
            coverage=report.coverage,
            coverage_goal_pct=payload.coverage_goal_pct,
            goal_met=report.goal_met,
            rounds_used=round_no,
            usage=usage,
            stopped_by=stopped.code if stopped else None,
        )

    async def _materialize(self, dirs: ws.TaskDirs) -> None:
        try:
            await materialize_snapshot(self.ctx.js, self.payload.source, dirs.workspace)
        except SnapshotMissing as err:
            raise PermanentFailure(ErrorCode.SNAPSHOT_MISSING, str(err)) from err
        except SnapshotCorrupt as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err
        except (nats.errors.Error, TimeoutError) as err:
            raise TransientFailure(ErrorCode.WORKSPACE_ERROR, f"snapshot download failed: {err!r}") from err

    @staticmethod
    def _restore(dirs: ws.TaskDirs, env: dict[str, str], files: dict[str, bytes | None]) -> None:
        try:
            ws.restore(dirs, env, files)
        except ws.WorkspaceError as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err

    @staticmethod
    def _baseline(dirs: ws.TaskDirs, env: dict[str, str]) -> None:
        try:
            ws.record_baseline(dirs, env)
        except ws.WorkspaceError as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err

    async def _store(self, dirs: ws.TaskDirs, env: dict[str, str], report: ValidationReport) -> Outputs:
        try:
            patch, changes = await asyncio.to_thread(ws.diff_against_baseline, dirs, env)
            return await store_outputs(
                self.ctx.js, dirs.workspace, prefix=f"{self.ctx.task.task_id}/{self.ctx.attempt}", patch=patch,
                changes=changes,
            )  # fmt: skip
        except ws.WorkspaceError as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err
        except ArtifactTooLarge as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err
        except (BucketMissing, nats.errors.Error, TimeoutError) as err:
            raise TransientFailure(ErrorCode.WORKSPACE_ERROR, f"storing the results failed: {err!r}") from err

    def _fail(self, report: ValidationReport, outputs: Outputs, changes: list[ws.Change], rounds: int) -> None:
        if not outputs.changes:
            raise PermanentFailure(ErrorCode.NO_FILES_PRODUCED, f"the agent wrote no files in {rounds} round(s)")
        where = f"\n\npatch of the last round: {outputs.patch.bucket}/{outputs.patch.name}" if outputs.patch else ""
        raise PermanentFailure(
            ErrorCode.VALIDATION_FAILED,
            self.redact(f"validation failed after {rounds} round(s): {report.problem}"),
            detail=self.redact(report.output + where),
        )

    async def _cleanup(self) -> None:
        dirs, session = self.dirs, self.session
        if dirs is None:
            return
        killed = ws.end_agent_processes(dirs)
        if session is not None:
            await asyncio.to_thread(session.close)
        if not self.settings.keep_workspaces:
            await asyncio.to_thread(ws.remove, dirs)
        log.debug("task_cleaned_up", killed_processes=killed, kept=self.settings.keep_workspaces)


def _report_line(round_no: int, report: ValidationReport) -> str:
    cov = ", ".join(f"{c.target} {c.percent:g} %" for c in report.coverage) or "no coverage data"
    if report.ok:
        return f"round {round_no}: {report.passed}/{report.collected} tests passed; coverage {cov}"
    return f"round {round_no}: failed: {report.problem}; {report.passed}/{report.collected} passed; coverage {cov}"
