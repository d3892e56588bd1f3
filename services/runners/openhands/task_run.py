"""One ``GenerateTests`` task from snapshot to result: workspace, agent rounds, hand-over, validation, artifacts.

After every round the agent's changes are screened (changes.py) and the accepted ones applied to a fresh
extraction of the snapshot; validation runs there, and the patch and stored files come from there.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import nats.errors
import structlog

from handoff.artifacts.errors import ArtifactTooLarge, BucketMissing, SnapshotCorrupt, SnapshotMissing
from handoff.artifacts.settings import artifact_max_bytes_from_env
from handoff.artifacts.snapshots import materialize_snapshot
from handoff.assurance.errors import AssuranceError
from handoff.common.secrets import Redactor, process_redactor
from handoff.environments import EnvironmentBuildError, ProjectEnv, ProjectEnvironments
from handoff.offline_engine.settings import ENGINE_PACKAGES, HYBRID_ENGINES, HYBRID_HINT
from handoff.runners.base import PermanentFailure, TaskContext, TransientFailure
from handoff.runners.openhands import changes
from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.assure import Assurance
from handoff.runners.openhands.changes import ChangePolicy, ChangeSet
from handoff.runners.openhands.outputs import Outputs, existing_tests_suffice, store_outputs, summarize
from handoff.runners.openhands.progress import ProgressPump
from handoff.runners.openhands.prompt import (
    assign_test_files,
    coverage_prompt,
    feedback_prompt,
    mutation_prompt,
    task_prompt,
)
from handoff.runners.openhands.secret_scan import SecretScanner
from handoff.runners.openhands.settings import RunnerSettings
from handoff.runners.openhands.validation import ValidationReport, select_test_files, validate
from handoff.sandbox import Sandbox
from handoff.schemas.events import ErrorCode, GenerateTests, ProjectEnvironment, RefusalReason, TestGenerationResult

if TYPE_CHECKING:  # the SDK is imported lazily, on the first task
    from openhands.sdk import LLM

    from handoff.runners.openhands.conversation import AgentSession

log = structlog.get_logger(__name__)
# a round that ends so does not lose an earlier validated round: the task returns that round's state
ROUND_ENDINGS = frozenset({ErrorCode.MAX_ITERATIONS, ErrorCode.AGENT_STUCK, ErrorCode.BUDGET_EXCEEDED})


@dataclass(frozen=True, slots=True)
class HandOver:
    """What one round hands over: the clean copy with the accepted changes, their patch, and the screening."""

    tree: Path
    patch: bytes
    changes: ChangeSet


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
        sandbox: Sandbox,
        environments: ProjectEnvironments,
    ) -> None:
        self.ctx = ctx
        self.payload = payload
        self.settings = settings
        self.llms = llms
        self.pump = pump
        self.redact = redact
        self.sandbox = sandbox
        self.environments = environments
        self.project_env: ProjectEnv | None = None
        self.dirs: ws.TaskDirs | None = None
        self.session: AgentSession | None = None

    async def execute(self) -> TestGenerationResult:
        try:
            return await self._execute()
        finally:
            await self._cleanup()

    async def _execute(self) -> TestGenerationResult:
        from handoff.runners.openhands.conversation import AgentSession

        payload, emit = self.payload, self.pump.emit
        dirs = self.dirs = ws.TaskDirs.create(self.settings.workspace_root, self.ctx.task.task_id, self.ctx.attempt)
        emit("workspace", f"materialising snapshot {payload.source.digest[:12]} ({payload.source.files} files)")
        await self._materialize(dirs.workspace)
        missing = [t for t in payload.targets if not (dirs.workspace / t).is_file()]
        if missing:
            raise PermanentFailure(ErrorCode.INVALID_TASK, f"targets not in the snapshot: {', '.join(missing)}")
        if ws.ensure_test_dir(dirs.workspace, payload.test_dir):
            emit("workspace", f"created the test directory {payload.test_dir}/ (the snapshot has none)")
        if not self.sandbox.enabled:
            emit("workspace", "UNSANDBOXED: HANDOFF_SANDBOX=none, the agent's commands run as the worker")
        project_env = self.project_env = await self._environment(dirs)
        env = ws.agent_env(dirs, allow=self.settings.agent_env_allow, venv=project_env.root)
        # the project's environment and the interpreter it was made from: readable (never writable) in its sandboxes
        interpreter_prefix = project_env.interpreter.path.resolve().parents[1]
        self.sandbox = self.sandbox.with_readable([project_env.root, interpreter_prefix])
        shell = ws.write_shell(dirs, env, sandbox=self.sandbox)
        assignments = assign_test_files(payload.targets, payload.test_dir)
        session = self.session = AgentSession(
            llms=self.llms,
            dirs=dirs,
            shell=shell,
            emit=emit,
            max_iterations=self.settings.max_iterations,
            max_budget_usd=self.settings.max_budget_usd,
            max_tokens=self.settings.max_tokens,
            condense_after_events=self.settings.condense_after_events,
        )
        feedback = payload.feedback_rounds if payload.feedback_rounds is not None else self.settings.feedback_rounds
        rounds_total = 1 + feedback
        tools = HYBRID_HINT if not self.settings.scripted_model else ""  # a real model may run the engines too
        message = await asyncio.to_thread(task_prompt, payload, dirs.workspace, assignments, tools=tools)
        assurance = Assurance(dirs=dirs, python=project_env.python, env=env, sandbox=self.sandbox,
                              settings=self.settings.assurance, targets=payload.targets, emit=emit,
                              timeout_s=self.settings.pytest_timeout_s,
                              redact=lambda text: self.redact(process_redactor()(text)))  # fmt: skip
        report = ValidationReport(ok=False, problem="not validated")
        handed = HandOver(tree=dirs.workspace, patch=b"", changes=ChangeSet())
        best: tuple[int, ValidationReport, HandOver] | None = None  # never lose a validated round
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
            keep = {best[2].tree} if best is not None else set()
            handed, report = await self._check_round(dirs, env, round_no, assurance, keep=keep)
            if report.ok:
                best = (round_no, report, handed)
            if report.goal_met or round_no == rounds_total:
                break
            message = self._next_message(round_no, rounds_total, report, handed)
        fallback = ""
        if best is not None and (stopped is not None or not report.ok):
            why = f"ended by {stopped.code.value}" if stopped else f"failed validation ({report.problem})"
            fallback = f" Round {round_no} {why}; this is round {best[0]}'s validated state."
            emit("round", fallback.strip())
            _, report, handed = best
        if best is not None and await assurance.score(handed.tree) and stopped is None:
            short = assurance.mutation_short(payload.mutation_goal_pct)
            if short and assurance.mutation is not None:  # one round on the changes the tests did not notice
                round_no += 1
                rounds_total += 1
                emit("round", f"agent round {round_no} (mutation feedback: {', '.join(short)})")
                best, stopped, note = await self._mutation_round(dirs, env, round_no, assurance, best)
                _, report, handed = best
                fallback += note
        usage = session.usage()
        outputs = await self._store(handed)
        if not report.ok or (not outputs.changes and not report.existing_tests_suffice):
            self._fail(report, outputs, handed.changes, round_no, session.last_tool_error, session.last_message)
        summary = summarize(report, outputs, rounds_used=round_no, rounds_total=rounds_total,
                            goal_pct=payload.coverage_goal_pct, label=self.settings.label,
                            sandboxed=self.sandbox.enabled)  # fmt: skip
        mutation_short = assurance.mutation_short(payload.mutation_goal_pct)
        goal_met = report.goal_met and not mutation_short
        summary += " " + assurance.summary(payload.mutation_goal_pct) + fallback
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
            goal_met=goal_met,
            rounds_used=round_no,
            usage=usage,
            refused=handed.changes.listed(),
            quality=assurance.quality(),
            tests_kept=list(assurance.kept),
            tests_dropped=assurance.tests_dropped(),
            round_counts=list(assurance.round_counts),
            stopped_by=stopped.code if stopped else None,
            sandbox=self.sandbox.mode.value,
            environment=ProjectEnvironment(
                python=project_env.interpreter.version,
                cache_hit=project_env.cache_hit,
                env_s=project_env.env_s,
                sources=list(project_env.dependencies.sources)[:64],
                requirements=len(project_env.dependencies.requirements) + len(project_env.extra_packages),
            ),
        )

    async def _environment(self, dirs: ws.TaskDirs) -> ProjectEnv:
        """The project's own virtualenv (cached per replica); the only step of a task that may reach the network."""
        payload, emit = self.payload, self.pump.emit
        packages = [*payload.extra_packages]
        if self.settings.offline_engine is not None:  # the engines run with the project's interpreter
            packages += [p for p in self.settings.offline_engine.packages if p not in packages]
        elif not self.settings.scripted_model:  # a real model gets the hybrid's engines to seed its tests
            packages += [ENGINE_PACKAGES[e] for e in HYBRID_ENGINES if ENGINE_PACKAGES[e] not in packages]
        packages += [p for p in self.settings.assurance.tool_packages if p not in packages]  # cosmic-ray
        try:
            env = await self.environments.prepare(
                dirs.workspace, python=payload.python, extra_packages=packages,
                on_build=lambda line: emit("environment", line),
            )  # fmt: skip
        except EnvironmentBuildError as err:
            failure = TransientFailure if err.retryable else PermanentFailure
            raise failure(
                ErrorCode.ENVIRONMENT_FAILED, f"project environment: {err.message}", detail=err.output
            ) from err
        how = "cache hit" if env.cache_hit else "built"
        emit("environment", f"{how}, {env.env_s:.1f} s (Python {env.interpreter.version}, "
                            f"{len(env.dependencies.requirements)} requirement(s))")  # fmt: skip
        return env

    async def _materialize(self, dest: Path) -> None:
        try:
            await materialize_snapshot(self.ctx.js, self.payload.source, dest)
        except SnapshotMissing as err:
            raise PermanentFailure(ErrorCode.SNAPSHOT_MISSING, str(err)) from err
        except SnapshotCorrupt as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err
        except (nats.errors.Error, TimeoutError) as err:
            raise TransientFailure(ErrorCode.WORKSPACE_ERROR, f"snapshot download failed: {err!r}") from err

    async def _check_round(
        self,
        dirs: ws.TaskDirs,
        env: dict[str, str],
        round_no: int,
        assurance: Assurance,
        *,
        keep: set[Path],
        coverage_required: bool = True,
    ) -> tuple[HandOver, ValidationReport]:
        """Hand the round over, judge its tests one by one (the dropped ones leave the files and the patch), and
        validate what is kept; the coverage goal is judged on line+branch coverage over the existing tests."""
        payload, emit = self.payload, self.pump.emit
        handed = await self._hand_over(dirs, env, round_no, keep=keep)
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
                emit("validation", _report_line(round_no, report))
                return handed, report
            if not judged.test_files and assurance.existing_tests_meet(payload.coverage_goal_pct):
                assurance.keep(judged)  # nothing: the final coverage is the baseline
                report = ValidationReport(ok=True, coverage=assurance.existing_coverage(), existing_tests_suffice=True)
                emit("validation", f"round {round_no}: " + existing_tests_suffice(payload.coverage_goal_pct))
                return HandOver(tree=handed.tree, patch=b"", changes=replace(handed.changes, accepted=[])), report
            if not judged.test_files:  # the round's own patch stays, for the failure's record
                problem, listing = assurance.nothing_kept(judged)
                report = ValidationReport(ok=False, problem=problem, output=listing, test_files=test_files)
                emit("validation", _report_line(round_no, report))
                return handed, report
            handed = HandOver(tree=handed.tree, patch=judged.patch, changes=judged.changes)
            test_files = judged.test_files
        emit("validation", f"round {round_no}: running {len(test_files)} test file(s) on a clean copy")
        report = await validate(
            dirs=dirs,
            tree=handed.tree,
            python=assurance.python,
            env=env,
            test_files=test_files,
            targets=payload.targets,
            goal_pct=payload.coverage_goal_pct,
            timeout_s=self.settings.pytest_timeout_s,
            max_output_chars=self.settings.max_output_chars,
            sandbox=self.sandbox,
        )
        if report.ok and judged is not None:
            assurance.keep(judged)
            report = replace(report, gaps=assurance.gaps(payload.coverage_goal_pct))
        emit("validation", _report_line(round_no, report))
        return handed, report

    async def _mutation_round(
        self,
        dirs: ws.TaskDirs,
        env: dict[str, str],
        round_no: int,
        assurance: Assurance,
        best: tuple[int, ValidationReport, HandOver],
    ) -> tuple[tuple[int, ValidationReport, HandOver], PermanentFailure | None, str]:
        """The agent sees the surviving mutants once; a validated round is scored again and becomes the best.
        Returns the best state, the failure that cut the round short (if one did) and a note for the summary."""
        assert assurance.mutation is not None
        prompt = mutation_prompt(assurance.mutation.feedback(), goal_pct=self.payload.mutation_goal_pct or 0.0)
        assert self.session is not None
        try:
            await self.session.run_round(prompt)
            handed, report = await self._check_round(dirs, env, round_no, assurance, keep={best[2].tree},
                                                     coverage_required=False)  # fmt: skip
        except PermanentFailure as err:
            if err.code not in ROUND_ENDINGS:
                raise
            note = f" Round {round_no} ended by {err.code.value}; this is round {best[0]}'s validated state."
            self.pump.emit("round", note.strip())
            return best, err, note
        if not report.ok:
            note = f" Round {round_no} failed validation ({report.problem}); this is round {best[0]}'s validated state."
            self.pump.emit("round", note.strip())
            return best, None, note
        await assurance.score(handed.tree)
        return (round_no, report, handed), None, ""

    def _next_message(self, round_no: int, rounds_total: int, report: ValidationReport, handed: HandOver) -> str:
        goal_pct = self.payload.coverage_goal_pct
        if report.ok:
            message = coverage_prompt(round_no=round_no, rounds_total=rounds_total, gaps=report.gaps, goal_pct=goal_pct)
        else:
            message = feedback_prompt(
                round_no=round_no, rounds_total=rounds_total, problem=report.problem, output=report.output
            )
        if handed.changes.refused:
            message += (
                "\n\nOnly test files are handed over and validated; these changes were left out: "
                f"{handed.changes.describe()}."
            )
        return message

    async def _hand_over(
        self,
        dirs: ws.TaskDirs,
        env: dict[str, str],
        round_no: int,
        *,
        keep: set[Path] = frozenset(),  # type: ignore[assignment]
    ) -> HandOver:
        """A fresh extraction of the snapshot (never anything the agent could write), the accepted part of the
        agent's changes applied to it, and the patch between the two. The previous round's copy is removed
        unless it is in ``keep`` (the best validated round so far)."""
        if round_no > 1 and not self.settings.keep_workspaces and dirs.clean(round_no - 1) not in keep:
            await asyncio.to_thread(shutil.rmtree, dirs.clean(round_no - 1), True)
            await asyncio.to_thread(shutil.rmtree, dirs.clean_git(round_no - 1), True)
        clean = dirs.clean(round_no)
        await self._materialize(clean)
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
            self.pump.emit("changes", f"round {round_no}: left out of the patch: {handed.changes.describe()}")
        return handed

    async def _store(self, handed: HandOver) -> Outputs:
        if self.redact.found_in(handed.patch):  # the screened files are clean: only the snapshot's context is left
            raise PermanentFailure(ErrorCode.SECRET_IN_OUTPUT, "the patch would carry a secret of this worker")
        try:
            return await store_outputs(
                self.ctx.js, handed.tree, prefix=f"{self.ctx.task.task_id}/{self.ctx.attempt}", patch=handed.patch,
                changes=handed.changes.accepted, refused=handed.changes.listed(),
            )  # fmt: skip
        except ArtifactTooLarge as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err
        except OSError as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, f"reading the results failed: {err}") from err
        except (BucketMissing, nats.errors.Error, TimeoutError) as err:
            raise TransientFailure(ErrorCode.WORKSPACE_ERROR, f"storing the results failed: {err!r}") from err

    def _fail(
        self, report: ValidationReport, outputs: Outputs, found: ChangeSet, rounds: int, tool_error: str, said: str = ""
    ) -> None:
        notes = [f"the agent's last message: {said}"] if said else []
        if found.refused:
            notes.append(f"left out of the patch: {found.describe(limit=50)}")
        if tool_error:
            notes.append(f"last tool error of the agent: {tool_error}")
        if not outputs.changes:
            if found.refused_for(RefusalReason.SECRET):
                raise PermanentFailure(
                    ErrorCode.SECRET_IN_OUTPUT,
                    f"every file the agent wrote held a secret or credential and was dropped "
                    f"({len(found.refused_for(RefusalReason.SECRET))} file(s))",
                    detail=self.redact("\n".join(notes)),
                )
            what = "wrote no files" if not found.refused else "wrote no file that may be handed over"
            raise PermanentFailure(
                ErrorCode.NO_FILES_PRODUCED,
                f"the agent {what} in {rounds} round(s)",
                detail=self.redact("\n".join(notes)),
            )
        where = f"patch of the last round: {outputs.patch.bucket}/{outputs.patch.name}" if outputs.patch else ""
        raise PermanentFailure(
            ErrorCode.VALIDATION_FAILED,
            self.redact(f"validation failed after {rounds} round(s): {report.problem}"),
            detail=self.redact("\n\n".join(part for part in (report.output, where, *notes) if part)),
        )

    async def _cleanup(self) -> None:
        dirs, session = self.dirs, self.session
        if self.project_env is not None:
            self.project_env.release()
        if dirs is None:
            return
        killed = await asyncio.to_thread(ws.end_agent_processes, dirs)
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
