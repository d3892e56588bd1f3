"""``OpenHandsTestGenerator``: the interface existing callers used for test generation, kept on top of Handoff.

    async with OpenHandsTestGenerator.from_env(repo_root=".") as generator:
        task_id = await generator.submit_test_generation_task("src/pkg/mod.py", "tests/test_mod.py", 80)
        ...                                           # the pipeline carries on
        outcome = await generator.get_test_generation_results(task_id, timeout=300)

What stays the same: the method names and arguments, ``submit_test_generation_task`` returning a task id at once,
``get_test_generation_results`` raising ``TimeoutError`` on timeout and ``RuntimeError`` for an unknown id, and
``generate_tests`` blocking and answering a timeout with ``{"success": False, "error": "Timeout …"}``. What
changed underneath: tasks live in JetStream rather than in this process (they survive it, and any process can
collect their results), results arrive without polling (``poll_interval`` is accepted and ignored), ``success``
is true only when the task succeeded, and ``module_path`` is relative to ``repo_root``, whose snapshot is what
the agent works on.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec

from handoff.client.client import HandoffClient
from handoff.client.errors import ResultTimeoutError, UnknownTaskError
from handoff.client.settings import ClientSettings
from handoff.schemas.events import Priority, TaskFinished, TaskStatus
from handoff.schemas.records import TaskRecord, TaskState

_LABEL_MAX = 200
_SEED_STATUS = {
    TaskState.QUEUED: "queued",
    TaskState.RUNNING: "running",
    TaskState.SUCCEEDED: "completed",
    TaskState.FAILED: "failed",
    TaskState.TIMED_OUT: "failed",
    TaskState.DEAD_LETTERED: "failed",
    TaskState.CANCELLED: "cancelled",
}


class TaskNotFoundError(UnknownTaskError, RuntimeError):
    """An unknown task id: an ``UnknownTaskError`` that existing ``except RuntimeError`` handlers still catch."""


class OpenHandsTestGenerator:
    def __init__(
        self,
        client: HandoffClient | None = None,
        *,
        repo_root: Path | str = ".",
        settings: ClientSettings | None = None,
        default_timeout_s: float | None = None,
        priority: Priority = Priority.HIGH,
    ) -> None:
        self._client = client
        self._owns_client = client is None
        self._settings = settings
        self.repo_root = Path(repo_root).resolve()
        self.default_timeout_s = default_timeout_s
        self.priority = priority

    @classmethod
    def from_env(cls, *, repo_root: Path | str = ".") -> OpenHandsTestGenerator:
        """Settings from ``HANDOFF_*`` variables; connects on ``start()`` / ``async with``."""
        return cls(repo_root=repo_root, settings=ClientSettings.from_env())

    @property
    def client(self) -> HandoffClient:
        if self._client is None:
            raise RuntimeError("OpenHandsTestGenerator is not started: use 'async with' or await start() first")
        return self._client

    async def start(self) -> None:
        if self._client is None:
            self._client = await HandoffClient.connect(self._settings)

    async def stop(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> OpenHandsTestGenerator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---- the seed's methods -------------------------------------------------------------------------
    async def submit_test_generation_task(
        self,
        module_path: str,
        output_path: str | None = None,
        coverage_threshold: float = 80,
        *,
        task_id: str | None = None,
        run_id: str | None = None,
        run_size: int | None = None,
        timeout_s: float | None = None,
    ) -> str:
        """Submit test generation for one module; returns the task id as soon as the submit is stored."""
        target = self._relative(module_path)
        test_dir = str(Path(output_path).parent) if output_path and Path(output_path).parent != Path(".") else "tests"
        instructions = f"Save the generated tests to: {output_path}" if output_path else ""
        labels = {"module_path": target[:_LABEL_MAX], "output_path": (output_path or "")[:_LABEL_MAX]}
        return await self.client.submit_tests(
            self.repo_root,
            [target],
            coverage_goal_pct=float(coverage_threshold),
            test_dir=test_dir,
            instructions=instructions,
            task_id=task_id,
            run_id=run_id,
            run_size=run_size,
            timeout_s=timeout_s,
            priority=self.priority,
            labels=labels,
        )

    async def get_test_generation_results(
        self,
        task_id: str,
        timeout: float | None = None,  # noqa: ASYNC109 (the seed's signature)
        poll_interval: float = 2.0,
    ) -> dict[str, Any]:
        """Wait for the task's result; ``TimeoutError`` (a ``ResultTimeoutError``) if it takes longer than ``timeout``.

        ``poll_interval`` is accepted for compatibility; nothing polls.
        """
        del poll_interval
        try:
            finished = await self.client.result(task_id, timeout=timeout or self.default_timeout_s)
        except UnknownTaskError as exc:
            raise TaskNotFoundError(exc.task_ids) from exc
        labels = await self._labels(task_id)
        return outcome_dict(finished, labels)

    async def get_task_status(self, task_id: str) -> dict[str, Any]:
        """Where the task stands, in the shape existing callers read."""
        try:
            record = await self.client.status(task_id)
        except UnknownTaskError as exc:
            raise TaskNotFoundError(exc.task_ids) from exc
        return status_dict(record)

    async def generate_tests(
        self,
        module_path: str,
        output_path: str | None = None,
        coverage_threshold: float = 80,
        timeout: float | None = None,  # noqa: ASYNC109 (the seed's signature)
    ) -> dict[str, Any]:
        """Submit and wait (blocking, as before). A timeout is answered with ``success: False``; the task goes on."""
        task_id = await self.submit_test_generation_task(module_path, output_path, coverage_threshold)
        try:
            return await self.get_test_generation_results(task_id, timeout=timeout)
        except ResultTimeoutError as exc:
            return {
                "success": False,
                "task_id": task_id,
                "error": f"Timeout after {exc.timeout_s:g}s (the task keeps running; collect it later by task_id)",
                "module_path": module_path,
                "output_path": output_path,
            }

    # ---- helpers ------------------------------------------------------------------------------------
    def _relative(self, module_path: str) -> str:
        path = Path(module_path)
        if path.is_absolute():
            try:
                path = path.resolve().relative_to(self.repo_root)
            except ValueError:
                raise ValueError(f"{module_path} is not inside the repository root {self.repo_root}") from None
        return path.as_posix()

    async def _labels(self, task_id: str) -> dict[str, str]:
        try:
            return dict((await self.client.status(task_id)).labels)
        except UnknownTaskError:
            return {}


def outcome_dict(finished: TaskFinished, labels: dict[str, str]) -> dict[str, Any]:
    """The seed's result dictionary, plus the status and error code Handoff knows."""
    outcome: dict[str, Any] = {
        "success": finished.status == TaskStatus.SUCCEEDED,
        "task_id": finished.task_id,
        "status": finished.status.value,
        "module_path": labels.get("module_path"),
        "output_path": labels.get("output_path") or None,
        "result": msgspec.to_builtins(finished.result) if finished.result is not None else {},
    }
    if finished.error is not None:
        outcome["error"] = finished.error.message
        outcome["error_code"] = finished.error.code.value
    elif finished.status != TaskStatus.SUCCEEDED:
        outcome["error"] = f"task ended {finished.status.value}"
    return outcome


def status_dict(record: TaskRecord) -> dict[str, Any]:
    finished = record.finished
    return {
        "task_id": record.task_id,
        "status": _SEED_STATUS[record.state],
        "state": record.state.value,
        "created_at": record.submitted_at.isoformat() if record.submitted_at else None,
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "completed_at": record.finished_at.isoformat() if record.finished_at else None,
        "error": finished.error.message if finished is not None and finished.error is not None else None,
        "retry_count": max(0, record.attempt - 1),
        "metadata": dict(record.labels),
    }
