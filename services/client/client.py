"""``HandoffClient``: submit work, await results without polling, follow runs, fetch artifacts.

    async with HandoffClient.connect(url="nats://127.0.0.1:4222") as client:
        task_id = await client.submit(Sleep(duration_s=1), run_id="build-42", run_size=1)
        finished = await client.result(task_id, timeout=60)

Every call is bounded: submits by ``submit_timeout_s`` (retried with the same message id, so a retried submit is
stored once), waits by their ``timeout`` (``ResultTimeoutError``; the work keeps running). An unknown or expired
task id fails at once with ``UnknownTaskError``.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.requests import Requests
from handoff.client import artifacts, identity, runs
from handoff.client.connecting import Connecting
from handoff.client.errors import ResultTimeoutError, SubmitError
from handoff.client.lookups import Lookups
from handoff.client.publishing import PublishFailed, publish_acked
from handoff.client.retry import within_deadline
from handoff.client.settings import ClientSettings
from handoff.client.watchers import UNCOVERED, FinishFeed
from handoff.common.clock import utcnow
from handoff.observability.tracing import current_trace_headers
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder, encode
from handoff.schemas.events import (
    AnyEvent,
    CancelRequested,
    Priority,
    RunFinished,
    RunSealed,
    RunTask,
    TaskFinished,
    TaskPayload,
    TaskSubmitted,
)
from handoff.schemas.records import RunRecord, TaskRecord

log = structlog.get_logger(__name__)
RUNS_REMEMBERED = 100_000  # submits whose run this client remembers (the rest cost one owner look-up per result)


def new_task_id() -> str:
    return uuid.uuid4().hex


class HandoffClient:
    """A Handoff client on a NATS connection. Construct it on your own ``nc``, or use ``HandoffClient.connect()``."""

    def __init__(self, nc: NATS, *, settings: ClientSettings | None = None, owns_connection: bool = False) -> None:
        self.nc = nc
        self.settings = settings or ClientSettings.from_env()
        self._owns_connection = owns_connection
        self._submit_check: Decoder[TaskSubmitted] = Decoder(TaskSubmitted, max_bytes=nc.max_payload or None)
        # task id -> run of the submits this client made (bounded): their finishes need no owner look-up
        self._runs_submitted: OrderedDict[str, str | None] = OrderedDict()
        self._requests = Requests(nc)  # submits without nats-py's cost per request
        self._lookups = Lookups(
            nc.jetstream(),
            concurrency=self.settings.lookup_concurrency,
            give_up_after_s=self.settings.submit_timeout_s,
            requests=self._requests,
        )
        self._finishes = FinishFeed(
            nc.jetstream(),
            heartbeat_s=self.settings.watch_heartbeat_s,
            give_up_after_s=self.settings.submit_timeout_s,
        )

    @classmethod
    def connect(cls, settings: ClientSettings | None = None, *, url: str | None = None) -> Connecting:
        """``client = await HandoffClient.connect()`` or ``async with HandoffClient.connect() as client``.

        Without ``url`` (or ``settings.nats.url``) it finds Handoff as the ``handoff`` commands do: a running ``handoff
        up``'s recorded address, else the default one (``handoff.client.locate``). Reaching nothing raises
        ``HandoffUnavailableError`` naming the address and why that one."""
        return Connecting(cls, settings or ClientSettings.from_env(), url)

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    async def close(self) -> None:
        """Release the result subscription; close the connection if this client opened it (never drains:
        nothing to flush but acknowledged work). Waits still going are cancelled."""
        await self._finishes.close()
        await self._requests.close()
        if self._owns_connection and not self.nc.is_closed:
            await self.nc.close()

    async def __aenter__(self) -> HandoffClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ---- submitting ---------------------------------------------------------------------------------
    async def submit(
        self,
        payload: TaskPayload,
        *,
        task_id: str | None = None,
        run_id: str | None = None,
        run_size: int | None = None,
        deadline: datetime | None = None,
        timeout_s: float | None = None,
        priority: Priority = Priority.NORMAL,
        max_attempts: int = 3,
        labels: dict[str, str] | None = None,
    ) -> str:
        """Publish a TaskSubmitted; return its task id as soon as JetStream has stored it.

        ``deadline`` (or ``timeout_s`` from now) bounds the task's whole life, retries included. Submitting the same
        task again (same ``task_id``, run, payload and settings) is idempotent: JetStream de-duplicates it and the
        first submit counts. A ``task_id`` that another submit owns (another run, or different content) raises
        ``TaskIdTaken`` (see ``handoff.client.identity``).
        """
        chosen_id = task_id is not None
        task_id = new_task_id() if task_id is None else task_id
        try:
            names.checked_id(task_id, "task_id")
            if run_id is not None:
                names.checked_id(run_id, "run_id")
        except names.InvalidIdentifier as exc:
            raise SubmitError(str(exc), task_id=None, retryable=False) from exc
        if deadline is not None and timeout_s is not None:
            raise ValueError("give either deadline or timeout_s, not both")
        now = utcnow()
        if timeout_s is not None:
            deadline = now + timedelta(seconds=timeout_s)
        event = TaskSubmitted(
            task_id=task_id,
            payload=payload,
            submitted_at=now,
            run_id=run_id,
            run_size=run_size,
            priority=priority,
            deadline=deadline,
            max_attempts=max_attempts,
            submitter=self.settings.submitter,
            labels=dict(labels or {}),
        )
        data = encode(event)
        try:
            self._submit_check.decode(data)
        except DecodeError as exc:
            raise SubmitError(f"invalid task {task_id!r}: {exc.message}", task_id=task_id, retryable=False) from exc
        subject = names.task_subject(run_id, task_id, names.EventType.SUBMITTED)
        self._finishes.cover(task_id)  # before publishing: its finish may reach the feed before the ack
        try:
            ack = await publish_acked(
                self.js,
                subject,
                data,
                msg_id=names.submit_msg_id(task_id),
                headers=current_trace_headers(),
                attempt_timeout_s=self.settings.nats.publish_timeout_s,
                total_timeout_s=self.settings.submit_timeout_s,
                requests=self._requests,
            )
        except PublishFailed as exc:
            self._finishes.uncover(task_id)
            raise SubmitError(str(exc), task_id=task_id, retryable=exc.retryable) from exc
        except BaseException:
            self._finishes.uncover(task_id)
            raise
        bound = self.settings.submit_timeout_s
        if ack.duplicate:  # stored before: by this caller (a retry), or by someone squatting on the id
            self._finishes.uncover(task_id)  # an earlier finish may exist: a wait looks it up
            await identity.check_duplicate(self.js, event, subject, ack.seq, give_up_after_s=bound)
        elif chosen_id:  # a known id may have been submitted under another run first
            try:
                await identity.check_first(self.js, event, ack.seq, give_up_after_s=bound)
            except BaseException:
                self._finishes.uncover(task_id)
                raise
        self._lookups.submitted(task_id)
        self._runs_submitted[task_id] = run_id
        if len(self._runs_submitted) > RUNS_REMEMBERED:
            self._runs_submitted.popitem(last=False)
        return task_id

    async def submit_tests(self, repo: Any, targets: list[str], **options: Any) -> str:
        """Snapshot ``repo``, then submit a GenerateTests task for ``targets`` (see ``artifacts.submit_tests``)."""
        return await artifacts.submit_tests(self, repo, targets, **options)

    async def seal_run(self, run_id: str, size: int) -> None:
        """Declare how many tasks ``run_id`` has (when the submits did not say); its RunFinished follows."""
        names.checked_id(run_id, "run id")
        event = RunSealed(run_id=run_id, size=size, sealed_at=utcnow())
        await self._publish(names.run_sealed_subject(run_id), encode(event), what=f"seal of run {run_id}")

    async def cancel(self, task_id: str, reason: str = "") -> bool:
        """Ask for ``task_id`` to be cancelled; False if it had already finished. Unknown ids raise."""
        names.checked_id(task_id)
        record = await self._lookups.status(task_id)
        if record.final:
            return False
        event = CancelRequested(
            task_id=task_id, requested_at=utcnow(), reason=reason, requested_by=self.settings.submitter
        )
        await self._publish(names.cancel_subject(task_id), encode(event), what=f"cancel of {task_id}")
        return True

    # ---- reading and waiting ------------------------------------------------------------------------
    async def status(self, task_id: str) -> TaskRecord:
        """Where the task stands now (queued, running with replica/attempt/progress, or final with timings)."""
        names.checked_id(task_id)
        return await self._lookups.status(task_id)

    async def run_status(self, run_id: str) -> RunRecord | None:
        """The collector's record of a run (expected size, finished tasks), None if it has none yet."""
        names.checked_id(run_id, "run id")
        return await self._lookups.run_record(run_id)

    async def result(self, task_id: str, timeout: float | None = None) -> TaskFinished:  # noqa: ASYNC109 (the API's typed timeout)
        """The task's final TaskFinished (any status), as soon as there is one.

        Waits on the client's one result subscription (no consumer per call); ``timeout`` as in ``as_completed``.
        """
        limit = self.settings.result_timeout_s if timeout is None else timeout
        deadline = asyncio.get_running_loop().time() + limit if math.isfinite(limit) else None
        feed = self._finishes
        futures = [feed.expect(task_id)]  # first: a finish published from here on reaches it
        try:
            claimed = feed.claim(task_id)  # submitted here while the feed was live: no look-up needed
            if claimed is UNCOVERED:
                # look-ups ride out an outage until the caller's deadline, then end unavailable (never "still
                # running")
                with within_deadline(deadline):
                    await feed.live()
                    candidate = await self._lookups.final(task_id)  # after live(): finds what finished before
            else:
                candidate = claimed
            async with asyncio.timeout_at(deadline):
                while True:
                    if candidate is None:
                        candidate = await futures[-1]
                    futures.append(feed.expect(task_id))  # before any await: the owner's finish may follow
                    finished = await self._owners(candidate)
                    if finished is not None:
                        return finished
                    candidate = None
        except TimeoutError:
            raise ResultTimeoutError([task_id], limit) from None
        finally:
            for future in futures:
                feed.forget(task_id, future)

    async def gather(self, task_ids: Iterable[str], timeout: float | None = None) -> list[TaskFinished]:  # noqa: ASYNC109 (the API's typed timeout)
        """The final events of all ``task_ids``, in their order; one deadline for all of them."""
        ids = list(task_ids)
        got: dict[str, TaskFinished] = {}
        async with aclosing(self.as_completed(ids, timeout)) as finishes:
            async for finished in finishes:
                got[finished.task_id] = finished
        return [got[t] for t in ids]

    async def as_completed(
        self,
        task_ids: Iterable[str],
        timeout: float | None = None,  # noqa: ASYNC109 (the API's typed timeout)
    ) -> AsyncGenerator[TaskFinished, None]:
        """The final events of ``task_ids`` in the order they finish (already finished ones first).

        Unknown ids raise ``UnknownTaskError`` before anything is yielded; when ``timeout`` (seconds, default
        ``result_timeout_s``, ``math.inf`` for none) runs out, ``ResultTimeoutError`` names the tasks still going.
        Use it with ``contextlib.aclosing`` if you may stop early.
        """
        ids = [names.checked_id(t) for t in dict.fromkeys(task_ids)]
        limit = self.settings.result_timeout_s if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit if math.isfinite(limit) else None
        feed = self._finishes
        # Register first, then make sure the feed is live, then look up: whatever finished before the feed
        # started is found by the look-up, whatever finishes after reaches the registered future.
        futures = {feed.expect(t): t for t in ids}
        settled: asyncio.Queue[asyncio.Future[TaskFinished]] = asyncio.Queue()  # in the order they finish
        for future in futures:
            future.add_done_callback(settled.put_nowait)
        pending = set(ids)
        try:
            # look-ups ride out an outage until the caller's deadline, then end unavailable (never "still running")
            with within_deadline(deadline):
                await feed.live()
                finals = await self._lookups.finals(ids)
            for finished in finals.values():
                if finished is not None:
                    feed.settle(finished)
            while pending:
                try:
                    async with asyncio.timeout_at(deadline):
                        future = await settled.get()
                        candidate = future.result()  # cancelled only when the client closes: that ends the wait
                        if candidate.task_id not in pending:
                            continue
                        backup = feed.expect(candidate.task_id)  # before any await: the owner's finish may follow
                        futures[backup] = candidate.task_id
                        backup.add_done_callback(settled.put_nowait)
                        finished = await self._owners(candidate)
                except TimeoutError:
                    raise ResultTimeoutError(sorted(pending), limit) from None
                if finished is None:
                    continue
                pending.discard(finished.task_id)  # its backup stays registered until the end (see finally)
                yield finished
        finally:
            for future, task_id in futures.items():
                feed.forget(task_id, future)

    async def _owners(self, finished: TaskFinished) -> TaskFinished | None:
        """``finished`` if it is the finish of the run that owns its task id (the first submit), else that run's own
        finish if it is stored already (None: not yet). The runs of this client's own submits are known."""
        if finished.task_id in self._runs_submitted:
            run_id = self._runs_submitted[finished.task_id]
        else:
            owner = await identity.owner(self.js, finished.task_id, give_up_after_s=self.settings.submit_timeout_s)
            if owner is None:
                return finished
            run_id = owner.run_id
        if run_id == finished.run_id:
            return finished
        log.warning("finish of another run ignored", task_id=finished.task_id, run_id=finished.run_id, owner=run_id)
        return await self._lookups.finished_of_run(finished.task_id, run_id)

    def watch(
        self, run_id: str, *, from_start: bool = False, until_finished: bool = True
    ) -> AsyncGenerator[AnyEvent, None]:
        """The run's lifecycle events as they happen (all since the start with ``from_start``), decoded.

        Ends after the run's RunFinished when ``until_finished``; otherwise runs until the caller stops.
        """
        names.checked_id(run_id, "run id")
        return runs.watch(self, run_id, from_start=from_start, until_finished=until_finished)

    async def wait_run(self, run_id: str, timeout: float | None = None) -> RunFinished:  # noqa: ASYNC109 (the API's typed timeout)
        """The run's RunFinished, once its last task has finished. ``UnknownRunError`` for a run nobody started."""
        names.checked_id(run_id, "run id")
        return await runs.wait_run(self, run_id, self.settings.result_timeout_s if timeout is None else timeout)

    async def run_tasks(self, run_id: str) -> list[RunTask]:
        """Every finished task of a run and its status, sorted by id, however large the run (a ``RunFinished``
        lists its tasks only up to 1,000: ``tasks_listed``)."""
        return await runs.run_tasks(self, run_id)

    # ---- artifacts ----------------------------------------------------------------------------------
    async def fetch_patch(self, finished: TaskFinished) -> bytes | None:
        """The unified diff a test-generation task produced, or None if it produced none."""
        return await artifacts.fetch_patch(self.js, finished)

    async def fetch_files(self, finished: TaskFinished) -> dict[str, bytes]:
        """The generated files of a test-generation task, by artifact name."""
        return await artifacts.fetch_files(self.js, finished)

    async def fetch_artifact(self, ref: Any) -> bytes:
        return await artifacts.fetch_artifact(self.js, ref)

    # ---- internals ----------------------------------------------------------------------------------
    @property
    def lookups(self) -> Lookups:
        return self._lookups

    @property
    def waiting_results(self) -> int:
        """How many task ids a result(), gather() or as_completed() of this client waits on now."""
        return self._finishes.waiting

    async def _publish(self, subject: str, data: bytes, *, what: str) -> None:
        try:
            await publish_acked(
                self.js,
                subject,
                data,
                msg_id=None,
                attempt_timeout_s=self.settings.nats.publish_timeout_s,
                total_timeout_s=self.settings.submit_timeout_s,
                requests=self._requests,
            )
        except PublishFailed as exc:
            raise SubmitError(f"{what}: {exc}", retryable=exc.retryable) from exc
