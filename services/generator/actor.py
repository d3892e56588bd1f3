"""The generator actor: one per process, any number of replicas sharing the durable consumer ``generators``.

``async with Generator(nc, settings=...) as generator: await generator.run()``; ``generator.stop()`` (from a
signal handler, or a test) ends ``run()`` gracefully: stop pulling, let running tasks finish for
``shutdown_grace_s``, interrupt the rest and hand their submits back at once, unsubscribe. A second ``stop()``
skips the rest of the grace period.

Concurrency has two bounds: ``slots`` per replica (the pull loop asks for exactly as many submits as it has free
slots, and hands back at once any it got beyond them) and the consumer's ``max_ack_pending`` across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping
from types import TracebackType

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from handoff.broker.batch_get import BatchGet
from handoff.broker.provision import CONSUMER_TUNABLE, consumer_config, consumer_drift
from handoff.broker.pull import Puller
from handoff.broker.requests import Requests
from handoff.common.secrets import nats_secrets, process_redactor
from handoff.generator.cancellation import CancelWatcher
from handoff.generator.dead_letters import DeadLetters
from handoff.generator.errors import ConsumerDrifted, GeneratorError, Interruption
from handoff.generator.execution import Execution, Services
from handoff.generator.finished_watch import FinishedWatch
from handoff.generator.heartbeat import ConnectionWatch, Heartbeats
from handoff.generator.publisher import Publisher
from handoff.generator.queued_cancels import QueuedCancels
from handoff.generator.settings import ABORT_WAIT_S, GeneratorSettings
from handoff.generator.stats import GeneratorStats
from handoff.runners.base import Runner
from handoff.runners.registry import RunnerRegistry, default_registry
from handoff.schemas import names
from handoff.schemas.codec import Decoder
from handoff.schemas.events import Payload, TaskSubmitted
from handoff.schemas.topology import build_topology

log = structlog.get_logger(__name__)

STRAY_CHECK_S = 0.02
"""While every slot is busy, how often to look for submits that arrived late for an expired pull request. Short:
such a submit waits here until handed back, while another replica may have a free slot for it (the check reads
a local counter, no broker call)."""


def _refuse_drift(existing: ConsumerConfig, settings: GeneratorSettings) -> None:
    """``ConsumerDrifted`` when the consumer's structure differs from the topology's (tuned numbers may differ)."""
    spec = next(c for c in build_topology(settings.common.topology).consumers if c.durable == names.GENERATOR_CONSUMER)
    drift = consumer_drift(existing, consumer_config(spec), ignore=CONSUMER_TUNABLE)
    if drift:
        shown = "; ".join(f"{field} is {have!r} (want {want!r})" for field, (have, want) in drift.items())
        raise ConsumerDrifted(
            f"consumer {names.GENERATOR_CONSUMER!r} on stream {names.EVENTS_STREAM!r} has drifted from the topology: "
            f"{shown}; refusing to serve it. Run 'handoff topology apply' as admin to repair it"
        )


class Generator:
    def __init__(
        self,
        nc: NATS,
        *,
        settings: GeneratorSettings,
        runners: RunnerRegistry | Mapping[type[Payload], Runner] | None = None,
    ) -> None:
        self._nc = nc
        self.settings = settings
        self._js: JetStreamContext = nc.jetstream(timeout=settings.publish_timeout_s)
        self._owns_registry = runners is None  # runners passed in belong to the caller, who closes them
        if runners is None:
            runners = default_registry()
        self._registry = runners if isinstance(runners, RunnerRegistry) else RunnerRegistry.of(runners)
        self.stats = GeneratorStats(replica_id=settings.replica_id, slots=settings.slots)
        self._stop = asyncio.Event()  # stop pulling
        self._skip_grace = asyncio.Event()  # a second stop(): interrupt running tasks now
        self._abort = asyncio.Event()  # stop retrying broker calls
        self._wake = asyncio.Event()  # a slot was freed, or stop() was called
        redact = process_redactor()
        redact.add(*nats_secrets(settings.common.nats))  # its own credentials never travel in its events
        self._requests = Requests(nc)
        self._publisher = Publisher(
            self._js,
            timeout_s=settings.publish_timeout_s,
            abort=self._abort,
            redact=redact,
            batch_get=BatchGet(self._requests),
            requests=self._requests,
        )
        self._dead_letters = DeadLetters(nc, self._publisher, replica_id=settings.replica_id, stats=self.stats)
        self._cancels = CancelWatcher(nc, on_cancel=self._on_cancel)
        self._queued_cancels = QueuedCancels(nc, self._publisher, replica_id=settings.replica_id, stats=self.stats)
        self._watch = ConnectionWatch(nc)
        self._finishes = FinishedWatch(
            nc, lambda subject: self._publisher.last_on_subject(names.EVENTS_STREAM, subject)
        )
        self._heartbeats: Heartbeats | None = None  # its interval comes from the consumer (__aenter__)
        self._rechecks: set[asyncio.Task[None]] = set()
        self._running: dict[int, tuple[Execution, asyncio.Task[None]]] = {}
        self._settling: set[int] = set()  # executions whose runner returned: they publish and ack, in no slot
        self._keys = itertools.count()
        self._sub: Puller | None = None
        self._services: Services | None = None
        self._shutdown_done: asyncio.Event | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------
    async def __aenter__(self) -> Generator:
        try:
            info = await self._js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
        except nats.js.errors.NotFoundError as exc:
            raise GeneratorError(
                f"consumer {names.GENERATOR_CONSUMER!r} on stream {names.EVENTS_STREAM!r} does not exist: "
                "apply the topology first (handoff topology apply, or HANDOFF_APPLY_TOPOLOGY=true)"
            ) from exc
        _refuse_drift(info.config, self.settings)
        ack_wait_s = float(info.config.ack_wait or 30.0)
        stream = await self._js.stream_info(names.EVENTS_STREAM)
        self._heartbeats = Heartbeats(self._watch, interval_s=ack_wait_s / 3, on_reconnect=self._recheck_cancels)
        self._services = Services(
            settings=self.settings,
            nc=self._nc,
            js=self._js,
            publisher=self._publisher,
            dead_letters=self._dead_letters,
            registry=self._registry,
            stats=self.stats,
            heartbeats=self._heartbeats,
            finishes=self._finishes,
            decoder=Decoder(TaskSubmitted, max_bytes=self.settings.max_submit_bytes),
            ack_wait_s=ack_wait_s,
            max_deliver=int(info.config.max_deliver or -1),
            duplicate_window_s=float(stream.config.duplicate_window or 0.0),
        )
        # Plain pull requests (handoff.broker.pull): nats-py's fetch costs an asyncio task per message.
        self._sub = Puller(self._nc, stream=names.EVENTS_STREAM, consumer=names.GENERATOR_CONSUMER)
        await self._sub.start()
        await self._cancels.start()
        await self._queued_cancels.start()
        await self._dead_letters.start()
        self._watch.start()
        self._heartbeats.start()
        self.stats.became_ready()
        log.info(
            "generator ready",
            replica_id=self.settings.replica_id,
            slots=self.settings.slots,
            ack_wait_s=ack_wait_s,
            max_deliver=self._services.max_deliver,
            global_cap=info.config.max_ack_pending,
            kinds=self._registry.kinds,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        await self._shutdown()

    def stop(self) -> None:
        """Begin a graceful shutdown; called again, skip the remaining grace period. Safe in signal handlers."""
        if self._stop.is_set():
            self._skip_grace.set()
        self._stop.set()
        self._wake.set()

    @property
    def slots_in_use(self) -> int:
        """Executions that hold a slot: all but those settling (publishing the finish and acking)."""
        return len(self._running) - len(self._settling)

    async def run(self) -> None:
        """Serve until ``stop()``; returns after the graceful shutdown."""
        if self._sub is None:
            raise GeneratorError("use 'async with Generator(...)' before run()")
        try:
            await self._pull_loop(self._sub)
        finally:
            await self._shutdown()

    # ---- pulling -----------------------------------------------------------------------------------
    async def _pull_loop(self, sub: Puller) -> None:
        while not self._stop.is_set():
            free = await self._free_slots(sub)
            if free == 0:
                continue
            if not self._nc.is_connected:
                # a pull request queued while disconnected would be answered later into nobody's slot
                await self._pause(0.1)
                continue
            try:
                msgs = await sub.fetch_any(free, timeout_s=self.settings.fetch_timeout_s)
            except nats.errors.Error as exc:
                if self._nc.is_closed:
                    log.error("the NATS connection was closed; the generator stops", error=repr(exc))
                    self.stop()
                    break
                log.warning("pull failed; retrying", error=repr(exc))
                await self._pause(self.settings.error_backoff_s)
                continue
            await self._dispatch(msgs)

    async def _free_slots(self, sub: Puller) -> int:
        """Wait for a free slot (0 once stopping). While all are busy, hand back submits that arrived late."""
        while not self._stop.is_set():
            self._wake.clear()
            free = self.settings.slots - self.slots_in_use
            if free > 0:
                return free
            try:
                async with asyncio.timeout(STRAY_CHECK_S):  # unlike wait_for, no task per wait
                    await self._wake.wait()
            except TimeoutError:
                await self._release_strays(sub)
        return 0

    async def _release_strays(self, sub: Puller) -> None:
        while sub.buffered > 0:
            await self._dispatch(await sub.fetch(1, timeout_s=0.05))  # a buffered message: no request

    async def _dispatch(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            if self._stop.is_set() or self.slots_in_use >= self.settings.slots:
                with contextlib.suppress(nats.errors.Error):
                    await msg.nak()
                self.stats.released += 1
                log.info("handed back a submit beyond the free slots", subject=msg.subject)
                continue
            self._start(msg)

    def _start(self, msg: Msg) -> None:
        assert self._services is not None
        key = next(self._keys)
        execution = Execution(msg, self._services, on_ran=lambda: self._ran(key))
        task = asyncio.create_task(execution.run(), name=f"generator-execution-{key}")
        self._running[key] = (execution, task)
        self.stats.slots_used(self.slots_in_use)
        task.add_done_callback(lambda done: self._finished(key, done))

    def _ran(self, key: int) -> None:
        """A runner returned: its slot is free for the next submit while the execution publishes and acks (the
        pull for the next submit overlaps the finish's round trips)."""
        if key in self._running and not self._stop.is_set():
            self._settling.add(key)
            self.stats.slots_used(self.slots_in_use)
            self._wake.set()

    def _finished(self, key: int, task: asyncio.Task[None]) -> None:
        self._running.pop(key, None)
        self._settling.discard(key)
        self.stats.slots_used(self.slots_in_use)
        self._wake.set()
        if task.cancelled():
            log.warning("an execution was cancelled before it settled its submit; it will be redelivered")
        elif (exc := task.exception()) is not None:
            log.error("an execution failed; its submit will be redelivered", error=repr(exc), exc_info=exc)

    def _on_cancel(self, task_id: str, reason: str) -> None:
        for execution, _ in self._running.values():
            if execution.task_id == task_id:
                log.info("interrupting a cancelled task", task_id=task_id, reason=reason)
                execution.interrupt(Interruption.CANCELLED, reason)

    def _recheck_cancels(self) -> None:
        """After a reconnect, every running task looks for a cancel it may have missed meanwhile."""
        for execution, _ in self._running.values():
            task = asyncio.create_task(execution.recheck_cancel(), name="generator-cancel-recheck")
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    # ---- shutdown ----------------------------------------------------------------------------------
    async def _wait_idle(self, timeout_s: float, *, unless: asyncio.Event | None = None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._running and not (unless is not None and unless.is_set()):
            self._wake.clear()
            if not self._running:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    async def _shutdown(self) -> None:
        if self._shutdown_done is not None:
            await self._shutdown_done.wait()
            return
        self._shutdown_done = asyncio.Event()
        self._stop.set()
        try:
            if self._running:
                log.info("stopping: waiting for running tasks", running=len(self._running))
                await self._wait_idle(self.settings.shutdown_grace_s, unless=self._skip_grace)
            if self._running:
                log.info("stopping: interrupting tasks and handing them back", running=len(self._running))
                for execution, _ in list(self._running.values()):
                    execution.interrupt(Interruption.SHUTDOWN, "the replica is shutting down")
                await self._wait_idle(self.settings.interrupt_grace_s + self.settings.publish_timeout_s)
            self._abort.set()
            await self._wait_idle(ABORT_WAIT_S)
            for _, task in list(self._running.values()):
                task.cancel()
            await asyncio.gather(*(task for _, task in self._running.values()), return_exceptions=True)
            await self._close_subscriptions()
            if self._owns_registry:
                await self._registry.aclose()
        finally:
            self.stats.ready = False
            self._shutdown_done.set()
            log.info("generator stopped", replica_id=self.settings.replica_id)

    async def _close_subscriptions(self) -> None:
        if self._heartbeats is not None:
            await self._heartbeats.stop()
        for task in list(self._rechecks):
            task.cancel()
        await asyncio.gather(*self._rechecks, return_exceptions=True)
        await self._watch.stop()
        if self._nc.is_closed:
            return
        if self._sub is not None:
            await self._release_strays(self._sub)
            with contextlib.suppress(nats.errors.Error):
                await self._sub.stop()
        with contextlib.suppress(nats.errors.Error):
            await self._requests.close()
            await self._finishes.stop()
            await self._cancels.stop()
            await self._queued_cancels.stop()
            await self._dead_letters.stop()
