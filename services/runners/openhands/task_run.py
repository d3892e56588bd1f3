"""One ``GenerateTests`` task from snapshot to result: workspace and environment, the agent's rounds, the
mutation round, and the result.

After every round the agent's changes are handed over and checked (round_check.py: screening, judging,
validation on a fresh extraction of the snapshot); the result is assembled in task_result.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import msgspec
import nats.errors
import structlog

from handoff.artifacts.errors import SnapshotCorrupt, SnapshotMissing
from handoff.artifacts.snapshots import materialize_snapshot
from handoff.common.secrets import Redactor, process_redactor
from handoff.common.text import clipped
from handoff.environments import (
    BuildOutputs,
    EnvironmentBuildError,
    ProjectEnv,
    ProjectEnvironments,
    ProjectMetadata,
    restore_build_outputs,
    site_packages,
    write_project_metadata,
)
from handoff.offline_engine.installed import engines_line, fitted_notes, none_installed, optional_packages
from handoff.offline_engine.settings import HYBRID_ENGINES, HYBRID_HINT
from handoff.runners.base import PermanentFailure, TaskContext, TransientFailure
from handoff.runners.openhands import task_result
from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.assure import Assurance
from handoff.runners.openhands.changes import ChangeSet
from handoff.runners.openhands.layout import Assignment, assign_test_files, describe, folders_of
from handoff.runners.openhands.outputs import summarize
from handoff.runners.openhands.progress import ProgressPump
from handoff.runners.openhands.prompt import (
    coverage_prompt,
    feedback_prompt,
    mutation_prompt,
    task_prompt,
)
from handoff.runners.openhands.round_check import HandOver, RoundCheck
from handoff.runners.openhands.settings import RunnerSettings
from handoff.runners.openhands.validation import ValidationReport
from handoff.sandbox import Sandbox
from handoff.schemas.events import ErrorCode, GenerateTests, LlmUsage, TestGenerationResult

if TYPE_CHECKING:  # the SDK is imported lazily, on the first task
    from pathlib import Path

    from openhands.sdk import LLM

    from handoff.runners.openhands.conversation import AgentSession

log = structlog.get_logger(__name__)
SAID_CHARS = 500  # the agent's last message, when a summary quotes it
# a round that ends so does not lose an earlier validated round: the task returns that round's state
ROUND_ENDINGS = frozenset({ErrorCode.MAX_ITERATIONS, ErrorCode.AGENT_STUCK, ErrorCode.BUDGET_EXCEEDED})


@dataclass(slots=True)
class Rounds:
    """Where the rounds stand: the last round's check, the best validated round, and why the rounds stopped."""

    total: int
    handed: HandOver
    number: int = 0
    report: ValidationReport = field(default_factory=lambda: ValidationReport(ok=False, problem="not validated"))
    best: tuple[int, ValidationReport, HandOver] | None = None  # never lose a validated round
    stopped: PermanentFailure | None = None
    note: str = ""  # for the summary: the round whose state is returned instead of the last one

    def fall_back(self, why: str) -> str:
        """Return to the best validated round; the note says which round ended how."""
        assert self.best is not None
        note = f" Round {self.number} {why}; this is round {self.best[0]}'s validated state."
        _, self.report, self.handed = self.best
        self.note += note
        return note.strip()


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
        self.build_outputs: BuildOutputs | None = None  # what the first materialisation wrote or found missing
        self.project_metadata: ProjectMetadata | None = None  # the distribution metadata written into the workspace
        self.engine_notes: list[str] = []  # engines installed otherwise than asked (fitted in or left out)
        self.assignments: list[Assignment] = []  # each target's test file, in the project's test folder

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
        if self.build_outputs is not None and self.build_outputs.describe():
            emit("workspace", self.build_outputs.describe())
        missing = [t for t in payload.targets if not (dirs.workspace / t).is_file()]
        if missing:
            raise PermanentFailure(ErrorCode.INVALID_TASK, f"targets not in the snapshot: {', '.join(missing)}")
        emit("workspace", await asyncio.to_thread(self._place_tests, dirs.workspace))
        if not self.sandbox.enabled:
            emit("workspace", "UNSANDBOXED: HANDOFF_SANDBOX=none, the agent's commands run as the worker")
        project_env = self.project_env = await self._environment(dirs)
        await self._write_metadata(dirs.workspace)  # needs the environment: it may hold the project already
        if self.project_metadata is not None and self.project_metadata.describe():
            emit("workspace", self.project_metadata.describe())
        env = ws.agent_env(dirs, allow=self.settings.agent_env_allow, venv=project_env.root, test_env=payload.test_env)
        # the project's environment and the interpreter it was made from: readable (never writable) in its sandboxes
        interpreter_prefix = project_env.interpreter.path.resolve().parents[1]
        self.sandbox = self.sandbox.with_readable([project_env.root, interpreter_prefix])
        shell = ws.write_shell(dirs, env, sandbox=self.sandbox)
        self.session = AgentSession(
            llms=self.llms,
            dirs=dirs,
            shell=shell,
            emit=emit,
            max_iterations=self.settings.max_iterations,
            max_budget_usd=self.settings.max_budget_usd,
            max_tokens=self.settings.max_tokens,
            condense_after_events=self.settings.condense_after_events,
        )
        assurance = Assurance(dirs=dirs, python=project_env.python, env=env, sandbox=self.sandbox,
                              settings=self.settings.assurance, targets=payload.targets, emit=emit,
                              redact=lambda text: self.redact(process_redactor()(text)))  # fmt: skip
        checker = RoundCheck(payload=payload, settings=self.settings, dirs=dirs, env=env, assurance=assurance,
                             sandbox=self.sandbox, redact=self.redact, emit=emit,
                             materialize=self._materialize)  # fmt: skip
        rounds = await self._rounds(checker)
        scored = rounds.best is not None and await assurance.score(rounds.handed.tree) is not None
        if scored:
            await self._rescue(checker, rounds)
        if scored and rounds.stopped is None and self.settings.offline_engine is None:  # the engines cannot use it
            await self._mutation_round(checker, rounds)
        return await self._result(rounds, assurance, project_env, written=checker.written)

    async def _rounds(self, checker: RoundCheck) -> Rounds:
        """The agent's rounds until the goal is met or the rounds run out; a validated round is never lost."""
        payload, emit, session = self.payload, self.pump.emit, self.session
        assert session is not None
        feedback = payload.feedback_rounds if payload.feedback_rounds is not None else self.settings.feedback_rounds
        if self.settings.offline_engine is not None:  # the engines ran in round 1 and cannot act on feedback:
            feedback = 0  # another round would only judge and validate the same files again
        rounds = Rounds(
            total=1 + feedback, handed=HandOver(tree=checker.dirs.workspace, patch=b"", changes=ChangeSet())
        )
        tools = ""
        if self.settings.offline_engine is not None:  # the policy runs the engines the environment holds
            tools = engines_line(self.settings.offline_engine.engines)
        elif not self.settings.scripted_model and self._hybrid_installed():  # a real model may run them too
            tools = HYBRID_HINT
        message = await asyncio.to_thread(task_prompt, payload, checker.dirs.workspace, self.assignments, tools=tools)
        engines = self.settings.offline_engine
        for number in range(1, rounds.total + 1):
            rounds.number = number
            writer = engines.round_writer if engines is not None else session.model  # not the scripted server's
            # the engines are silent until they end: the round says how long they may run
            span = f": each engine runs up to {engines.per_target_s:g} s per target" if engines is not None else ""
            emit("round", f"agent round {rounds.number} of {rounds.total} ({writer}){span}")
            try:
                await session.run_round(message)
            except PermanentFailure as err:
                if rounds.best is None or err.code not in ROUND_ENDINGS:
                    raise
                rounds.stopped = err
                break
            keep = {rounds.best[2].tree} if rounds.best is not None else set()
            rounds.handed, rounds.report = await checker.check(rounds.number, keep=keep)
            if rounds.report.ok:
                rounds.best = (rounds.number, rounds.report, rounds.handed)
            if rounds.report.goal_met or rounds.number == rounds.total:
                break
            message = self._next_message(rounds)
        if rounds.best is not None and (rounds.stopped is not None or not rounds.report.ok):
            stopped = rounds.stopped
            why = f"ended by {stopped.code.value}" if stopped else f"failed validation ({rounds.report.problem})"
            emit("round", rounds.fall_back(why))
        return rounds

    async def _mutation_round(self, checker: RoundCheck, rounds: Rounds) -> None:
        """Under a mutation goal not met, the agent sees the surviving mutants once; a validated round is scored
        again and becomes the best, else the earlier validated state stays."""
        assurance, session = checker.assurance, self.session
        short = assurance.mutation_short(self.payload.mutation_goal_pct)
        if not short or assurance.mutation is None or rounds.best is None:
            return
        assert session is not None
        rounds.number += 1
        rounds.total += 1
        self.pump.emit("round", f"agent round {rounds.number} (mutation feedback: {', '.join(short)})")
        prompt = mutation_prompt(assurance.mutation.feedback(), goal_pct=self.payload.mutation_goal_pct or 0.0)
        try:
            await session.run_round(prompt)
            handed, report = await checker.check(rounds.number, keep={rounds.best[2].tree}, coverage_required=False)
        except PermanentFailure as err:
            if err.code not in ROUND_ENDINGS:
                raise
            rounds.stopped = err
            self.pump.emit("round", rounds.fall_back(f"ended by {err.code.value}"))
            return
        if not report.ok:
            self.pump.emit("round", rounds.fall_back(f"failed validation ({report.problem})"))
            return
        rounds.best = (rounds.number, report, handed)
        rounds.report, rounds.handed = report, handed
        if await assurance.score(handed.tree) is not None:
            await self._rescue(checker, rounds)

    @staticmethod
    async def _rescue(checker: RoundCheck, rounds: Rounds) -> None:
        """Dropped coverage-free tests that kill surviving mutants join the scored (best) round's hand-over, once
        validated with it."""
        found = await checker.rescue(rounds.handed.tree)
        if found is None or rounds.best is None:
            return
        patch, changes, test_files, cases = found
        handed = HandOver(tree=rounds.handed.tree, patch=patch, changes=changes)
        report = replace(rounds.report, test_files=test_files, collected=rounds.report.collected + cases,
                         passed=rounds.report.passed + cases)  # fmt: skip
        rounds.best = (rounds.best[0], report, handed)
        rounds.report, rounds.handed = report, handed

    async def _result(
        self, rounds: Rounds, assurance: Assurance, project_env: ProjectEnv, *, written: bytes = b""
    ) -> TestGenerationResult:
        payload, session = self.payload, self.session
        assert session is not None
        usage = session.usage()
        if self.settings.offline_engine is not None:  # no model: the driver typing the engines' commands is no LLM
            usage = LlmUsage(model=self.settings.offline_engine.label)
        report, handed = rounds.report, rounds.handed
        prefix = f"{self.ctx.task.task_id}/{self.ctx.attempt}"
        outputs = await task_result.store(self.ctx.js, handed, prefix=prefix, redact=self.redact)
        if not task_result.usable(report, outputs):
            task_result.fail(report, outputs, handed.changes, rounds=rounds.number, task_id=self.ctx.task.task_id,
                             tool_error=session.last_tool_error, engines_note="; ".join(self.engine_notes),
                             said=session.last_message, redact=self.redact,
                             baseline_note=assurance.baseline_note(), build_note=self._build_note(),
                             metadata_note=self._metadata_note())  # fmt: skip
        summary = summarize(report, outputs, rounds_used=rounds.number, rounds_total=rounds.total,
                            goal_pct=payload.coverage_goal_pct, label=self.settings.label,
                            sandboxed=self.sandbox.enabled, baseline_note=assurance.baseline_note(),
                            rescued=len(assurance.rescued))  # fmt: skip
        summary += " " + assurance.summary(payload.mutation_goal_pct) + rounds.note
        said = clipped(" ".join(session.last_message.split()), SAID_CHARS).rstrip(".")
        end = "" if said.endswith("…") else "."
        if report.no_test_written and said:  # "nothing added" is not "no test could be made"
            summary += f" No test was written; the agent's last message: {said}{end}"
        elif self.settings.offline_engine is not None and said:  # what each engine gave, failed or timed out on
            summary += f" The engines reported: {said.split('] ', 1)[-1] if said.startswith('[') else said}{end}"
        if self.engine_notes:
            summary += f" Engines: {'; '.join(self.engine_notes)}."
        if build_note := self._build_note():
            summary += f" Build output not in the snapshot: {build_note}."
        # metadata written for the project is said in the progress only (most projects get it); a problem is said here
        if self.project_metadata is not None and self.project_metadata.problem:
            note = self._metadata_note()
            summary += f" {note[0].upper()}{note[1:]}."
        self.pump.emit("result", summary)
        written_ref = await task_result.store_written(self.ctx.js, written, prefix=prefix, redact=self.redact)
        return task_result.assemble(payload, summary=self.redact(summary), report=report, outputs=outputs,
                                    handed=handed, assurance=assurance, rounds_used=rounds.number, usage=usage,
                                    stopped=rounds.stopped, sandbox_mode=self.sandbox.mode.value,
                                    project_env=project_env, written=written_ref)  # fmt: skip

    async def _environment(self, dirs: ws.TaskDirs) -> ProjectEnv:
        """The project's own virtualenv (cached per replica); the only step of a task that may reach the network.

        The engines are optional packages of it: one that cannot be installed with the project's requirements is
        left out and the task runs with the others (said in the progress and the summary); with none left, the task
        fails naming the conflicts."""
        payload, emit = self.payload, self.pump.emit
        packages = [*payload.extra_packages]
        packages += [p for p in self.settings.assurance.tool_packages if p not in packages]  # cosmic-ray
        engines = self.settings.offline_engine
        wanted: tuple[str, ...] = ()
        if engines is not None:  # the engines run with the project's interpreter
            wanted = engines.engines
        elif not self.settings.scripted_model:  # a real model gets the hybrid's engines to seed its tests
            wanted = HYBRID_ENGINES
        try:
            env = await self.environments.prepare(
                dirs.workspace, python=payload.python, extra_packages=packages,
                optional_packages=optional_packages(wanted), on_build=lambda line: emit("environment", line),
            )  # fmt: skip
        except EnvironmentBuildError as err:
            failure = TransientFailure if err.retryable else PermanentFailure
            raise failure(ErrorCode.ENVIRONMENT_FAILED, f"project environment: {err.message}",
                          detail=err.output) from err  # fmt: skip
        how = "cache hit" if env.cache_hit else "built"
        added = f" + {len(env.extra_packages)} added" if env.extra_packages else ""
        emit("environment", f"{how}, {env.env_s:.1f} s (Python {env.interpreter.version}, "
                            f"{len(env.dependencies.requirements)} project requirement(s){added})")  # fmt: skip
        for plugin in env.plugins:  # the project's pytest configuration asks for it: say which option did
            emit("environment", plugin.note)
        if engines is not None:
            installed = tuple(e for e in engines.engines if e in env.optional.installed)
            if not installed:
                env.release()
                raise PermanentFailure(ErrorCode.ENVIRONMENT_FAILED,
                                       f"project environment: {none_installed(env.optional, wanted)}")  # fmt: skip
            if installed != engines.engines:  # the label, the prompt and the usage name the engines that run
                narrowed = msgspec.structs.replace(engines, engines=installed)
                self.settings = msgspec.structs.replace(self.settings, offline_engine=narrowed)
                self.pump.relabel(self.settings.label)
        self.engine_notes = fitted_notes(env.optional, wanted)
        for note in self.engine_notes:
            emit("environment", note)
        return env

    def _place_tests(self, workspace: Path) -> str:
        """Each target's test file, in the project's test folder (found, or created when it has none); the progress
        line naming them."""
        payload = self.payload
        self.assignments = assign_test_files(payload.targets, payload.test_dir, workspace)
        created = [folder for folder in folders_of(self.assignments) if ws.ensure_test_dir(workspace, folder)]
        return describe(self.assignments, workspace, created=created, requested=payload.test_dir)

    def _hybrid_installed(self) -> bool:
        assert self.project_env is not None
        return all(e in self.project_env.optional.installed for e in HYBRID_ENGINES)

    async def _materialize(self, dest: Path) -> None:
        """The snapshot in ``dest``, with the version modules the project's build writes and git ignores (see
        environments/build_outputs.py) and, once the environment is known, the project's distribution metadata
        (environments/project_metadata.py); every extraction gets the same ones, so they are never a change."""
        try:
            await materialize_snapshot(self.ctx.js, self.payload.source, dest)
        except SnapshotMissing as err:
            raise PermanentFailure(ErrorCode.SNAPSHOT_MISSING, str(err)) from err
        except SnapshotCorrupt as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err
        except (nats.errors.Error, TimeoutError) as err:
            raise TransientFailure(ErrorCode.WORKSPACE_ERROR, f"snapshot download failed: {err!r}") from err
        try:
            outputs = await asyncio.to_thread(restore_build_outputs, dest)
        except OSError as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, f"writing a build output failed: {err}") from err
        if self.build_outputs is None:
            self.build_outputs = outputs
        if self.project_env is not None:  # the workspace gets it when the environment is ready
            await self._write_metadata(dest)

    async def _write_metadata(self, dest: Path) -> None:
        assert self.project_env is not None
        installed = site_packages(self.project_env.root)
        try:
            metadata = await asyncio.to_thread(write_project_metadata, dest, installed_in=installed)
        except OSError as err:
            raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, f"writing the project's metadata failed: {err}") from err
        if self.project_metadata is None:
            self.project_metadata = metadata

    def _build_note(self) -> str:
        return self.build_outputs.describe() if self.build_outputs is not None else ""

    def _metadata_note(self) -> str:
        return self.project_metadata.describe() if self.project_metadata is not None else ""

    def _next_message(self, rounds: Rounds) -> str:
        report, handed, goal_pct = rounds.report, rounds.handed, self.payload.coverage_goal_pct
        if report.ok:
            message = coverage_prompt(round_no=rounds.number, rounds_total=rounds.total, gaps=report.gaps,
                                      goal_pct=goal_pct)  # fmt: skip
        else:
            message = feedback_prompt(round_no=rounds.number, rounds_total=rounds.total, problem=report.problem,
                                      output=report.output)  # fmt: skip
        if handed.changes.refused:
            message += (
                "\n\nOnly test files are handed over and validated; these changes were left out: "
                f"{handed.changes.describe()}."
            )
        return message

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
