"""Runs a workflow's stages in order. The generation stage publishes its tasks and returns (non-blocking) or
awaits each in turn (blocking); later stages run while agents work; the join collects results with an overall
deadline and applies patches. A failed generation task is reported, never waited on forever."""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog

from handoff.client.patches import PatchNotApplied, apply_patch
from handoff.schemas.events import TaskFinished, TaskPayload
from handoff.workflow.config import Mode, StageKind, StageSpec, WorkflowFile
from handoff.workflow.discovery import discover_targets
from handoff.workflow.report import GenerationOutcome, StageRecord, WorkflowReport

log = structlog.get_logger(__name__)


class GenerationBackend(Protocol):
    """What the runner needs from Handoff; ``handoff.workflow.backend.ClientBackend`` is the real one."""

    async def payloads(self, repo: Path, targets: list[str], workflow: WorkflowFile) -> list[TaskPayload]: ...
    async def submit(
        self, payload: TaskPayload, *, task_id: str, run_id: str, run_size: int, timeout_s: float
    ) -> None: ...
    async def wait(self, task_id: str, *, timeout_s: float) -> TaskFinished | None: ...  # None: still running
    async def patch(self, finished: TaskFinished) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class StageContext:
    """Given to ``call`` stages."""

    repo: Path
    stage: str
    args: dict[str, str | int | float | bool]
    run_id: str


class StageFailed(RuntimeError):
    pass


class WorkflowRunner:
    def __init__(
        self,
        *,
        backend: GenerationBackend,
        repo: Path,
        workflow: WorkflowFile,
        mode: Mode = Mode.NON_BLOCKING,
        run_id: str | None = None,
        on_stage: Callable[[StageRecord], Awaitable[None] | None] | None = None,
    ) -> None:
        self.backend = backend
        self.repo = repo
        self.workflow = workflow
        self.mode = mode
        self.run_id = run_id or f"wf-{uuid.uuid4().hex[:12]}"
        self._on_stage = on_stage
        self._t0 = 0.0
        self._generation_started = 0.0
        self._pending: list[GenerationOutcome] = []
        self._joined = True

    def _now(self) -> float:
        return time.monotonic() - self._t0

    async def run(self) -> WorkflowReport:
        report = WorkflowReport(mode=self.mode, run_id=self.run_id)
        self._t0 = time.monotonic()
        try:
            for stage in self.workflow.stages:
                if stage.kind == StageKind.JOIN or (stage.needs_generated_tests and not self._joined):
                    await self._record(
                        report,
                        "join" if stage.kind == StageKind.JOIN else "join (implicit)",
                        StageKind.JOIN,
                        lambda: self._join(report),
                    )
                if stage.kind == StageKind.GENERATE_TESTS:
                    await self._record(report, stage.name, stage.kind, lambda: self._generate(report))
                elif stage.kind == StageKind.WORK:
                    await self._record(report, stage.name, stage.kind, functools.partial(self._work, stage))
            if not self._joined:
                await self._record(report, "join (implicit)", StageKind.JOIN, lambda: self._join(report))
        except StageFailed as exc:
            log.warning("workflow stopped at a failed stage", run_id=self.run_id, error=str(exc))
        report.wall_s = self._now()
        return report

    async def _record(
        self, report: WorkflowReport, name: str, kind: StageKind, body: Callable[[], Awaitable[str]]
    ) -> None:
        record = StageRecord(name=name, kind=kind, started_s=self._now())
        report.stages.append(record)
        try:
            record.detail = await body()
        except StageFailed as exc:
            record.ok, record.detail = False, str(exc)
            raise
        finally:
            record.finished_s = self._now()
            if self._on_stage is not None:
                maybe = self._on_stage(record)
                if inspect.isawaitable(maybe):
                    await maybe

    # ---- stages -----------------------------------------------------------------------------------
    async def _work(self, stage: StageSpec) -> str:
        if stage.run is not None:
            return await self._run_command(stage, stage.run)
        assert stage.call is not None
        module_name, _, func_name = stage.call.partition(":")
        try:
            func = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError) as exc:
            raise StageFailed(f"stage {stage.name!r}: cannot load {stage.call}: {exc}") from exc
        if not inspect.iscoroutinefunction(func):
            raise StageFailed(f"stage {stage.name!r}: {stage.call} must be an async function")
        ctx = StageContext(repo=self.repo, stage=stage.name, args=dict(stage.args), run_id=self.run_id)
        try:
            result = await asyncio.wait_for(func(ctx), timeout=stage.timeout_s)
        except TimeoutError as exc:
            raise StageFailed(f"stage {stage.name!r} took longer than {stage.timeout_s} s") from exc
        return "" if result is None else str(result)

    async def _run_command(self, stage: StageSpec, command: str) -> str:
        proc = await asyncio.create_subprocess_shell(
            command, cwd=self.repo, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=stage.timeout_s)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise StageFailed(f"stage {stage.name!r}: '{command}' took longer than {stage.timeout_s} s") from exc
        tail = out.decode(errors="replace").strip().splitlines()[-1:] if out else []
        if proc.returncode != 0:
            raise StageFailed(f"stage {stage.name!r}: '{command}' exited {proc.returncode}: {' '.join(tail)}")
        return " ".join(tail)[:120]

    async def _generate(self, report: WorkflowReport) -> str:
        spec = self.workflow.workflow
        targets = discover_targets(self.repo, spec)
        payloads = await self.backend.payloads(self.repo, targets, self.workflow)
        self._generation_started = self._now()
        self._joined = False
        for index, (target, payload) in enumerate(zip(targets, payloads, strict=True)):
            outcome = GenerationOutcome(target=target, task_id=f"{self.run_id}-{index:04d}")
            report.generation.append(outcome)
            self._pending.append(outcome)
            await self.backend.submit(
                payload,
                task_id=outcome.task_id,
                run_id=self.run_id,
                run_size=len(targets),
                timeout_s=spec.task_timeout_s,
            )
            if self.mode == Mode.BLOCKING:
                await self._settle(outcome, spec.task_timeout_s)
        if self.mode == Mode.BLOCKING:
            return f"{len(targets)} task(s) generated one after another"
        return f"{len(targets)} task(s) published"

    async def _join(self, report: WorkflowReport) -> str:
        deadline = self._generation_started + self.workflow.workflow.join_timeout_s
        await asyncio.gather(*(self._settle(o, max(deadline - self._now(), 0.01)) for o in self._pending))
        self._pending = []
        self._joined = True
        failed = [g for g in report.generation if g.status != "succeeded"]
        applied = sum(g.patch_applied for g in report.generation)
        return f"{len(report.generation) - len(failed)} succeeded, {len(failed)} not, {applied} patch(es) applied"

    async def _settle(self, outcome: GenerationOutcome, timeout_s: float) -> None:
        if outcome.status != "pending":
            return
        finished = await self.backend.wait(outcome.task_id, timeout_s=timeout_s)
        if finished is None:
            outcome.status = "wait_timed_out"
            outcome.error = f"no result within {timeout_s:.0f} s; the task keeps running"
            return
        outcome.status = str(finished.status)
        if finished.error is not None:
            outcome.error_code, outcome.error = str(finished.error.code), finished.error.message
        if finished.result is not None:
            outcome.summary = getattr(finished.result, "summary", "")
        if outcome.status == "succeeded" and self.workflow.workflow.apply_patches:
            await self._apply_patch(outcome, finished)

    async def _apply_patch(self, outcome: GenerationOutcome, finished: TaskFinished) -> None:
        patch = await self.backend.patch(finished)
        if not patch:
            return
        try:
            await apply_patch(self.repo, patch)
        except PatchNotApplied as exc:
            outcome.patch_error = str(exc)
        else:
            outcome.patch_applied = True
