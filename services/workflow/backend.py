"""The workflow runner's view of Handoff, on the real client: one snapshot upload, one task per module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from handoff.client.artifacts import per_module_payloads
from handoff.client.client import HandoffClient
from handoff.client.errors import ResultTimeoutError
from handoff.schemas.events import TaskFinished, TaskPayload
from handoff.workflow.config import WorkflowFile

PayloadFactory = Callable[[str], TaskPayload]


class ClientBackend:
    """``payload_factory`` replaces the GenerateTests payloads (benchmarks submit Sleep tasks through it)."""

    def __init__(self, client: HandoffClient, *, payload_factory: PayloadFactory | None = None) -> None:
        self.client = client
        self._factory = payload_factory

    async def payloads(self, repo: Path, targets: list[str], workflow: WorkflowFile) -> list[TaskPayload]:
        if self._factory is not None:
            return [self._factory(t) for t in targets]
        spec = workflow.workflow
        return list(
            await per_module_payloads(
                self.client.js, repo, targets, coverage_goal_pct=spec.coverage_goal_pct, instructions=spec.instructions
            )
        )

    async def submit(self, payload: TaskPayload, *, task_id: str, run_id: str, run_size: int, timeout_s: float) -> None:
        await self.client.submit(payload, task_id=task_id, run_id=run_id, run_size=run_size, timeout_s=timeout_s)

    async def wait(self, task_id: str, *, timeout_s: float) -> TaskFinished | None:
        try:
            return await self.client.result(task_id, timeout=timeout_s)
        except ResultTimeoutError:
            return None

    async def patch(self, finished: TaskFinished) -> bytes | None:
        return await self.client.fetch_patch(finished)
