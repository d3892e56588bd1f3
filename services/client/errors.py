"""What a Handoff client call can fail with. Every error names the task or run it is about."""

from __future__ import annotations

from collections.abc import Sequence


class HandoffClientError(Exception):
    """Base of the client's errors."""


class SubmitError(HandoffClientError):
    """A submit was refused (invalid task) or JetStream did not acknowledge it in time.

    ``task_id`` names the task (None for a run seal); after a timeout, submitting again with the same id is safe
    (de-duplicated). ``retryable`` is False for a task that can never be accepted as it is.
    """

    def __init__(self, message: str, *, task_id: str | None = None, retryable: bool) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.retryable = retryable


class TaskIdTaken(SubmitError):
    """The task id belongs to another submit (another run, or a different task under the same message id): this
    submit will not run and no result of that id is this caller's. Submit again under a fresh task id."""

    def __init__(self, task_id: str, why: str) -> None:
        super().__init__(
            f"task id {task_id!r} is taken: {why}; this submit will not run (use another task id)",
            task_id=task_id,
            retryable=False,
        )


class UnknownTaskError(HandoffClientError, LookupError):
    """No record and no event of these task ids exist: never submitted here, or expired (result retention)."""

    def __init__(self, task_ids: Sequence[str]) -> None:
        self.task_ids = tuple(task_ids)
        shown = ", ".join(self.task_ids[:5]) + (" …" if len(self.task_ids) > 5 else "")
        super().__init__(
            f"unknown task{'s' if len(self.task_ids) != 1 else ''}: {shown} "
            "(never submitted to this Handoff, or its record expired after HANDOFF_RESULT_TTL_S)"
        )

    @property
    def task_id(self) -> str:
        return self.task_ids[0]


class UnknownRunError(HandoffClientError, LookupError):
    """No task of this run id, and no sealing of it, is known (never submitted, or expired)."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"unknown run: {run_id} (no task of it was submitted, or its records expired)")
        self.run_id = run_id


class ResultTimeoutError(HandoffClientError, TimeoutError):
    """The wait ended before the task(s) or run finished. The work keeps running; wait again later."""

    def __init__(self, pending: Sequence[str], timeout_s: float, *, what: str = "task") -> None:
        self.pending = tuple(pending)
        self.timeout_s = timeout_s
        shown = ", ".join(self.pending[:5]) + (" …" if len(self.pending) > 5 else "")
        super().__init__(
            f"no result within {timeout_s:g} s for {len(self.pending)} {what}(s): {shown}; it keeps running"
        )

    @property
    def task_id(self) -> str:
        return self.pending[0]


class HandoffUnavailableError(HandoffClientError):
    """NATS did not answer: ``HandoffClient.connect()`` reached no server (the message names the address and why that
    one, see ``handoff.client.locate``), or a look-up got no answer for longer than the client's bound
    (``HANDOFF_SUBMIT_TIMEOUT_S``)."""


class ArtifactUnavailableError(HandoffClientError):
    """A result's artifact cannot be fetched: missing (expired), corrupt, or the result has none."""
