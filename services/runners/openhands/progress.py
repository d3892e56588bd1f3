"""Agent events -> ``TaskProgress`` messages, published in order from whatever thread the SDK calls back on.

Every message passes the process's ``Redactor`` (services.common.secrets: every configured secret becomes
``***``) and is cut to ``MAX_MESSAGE_CHARS``; without an LLM each is labelled with what writes the tests
(``[scripted model]``, ``[offline engine: …]``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

import nats.errors
import structlog

from handoff.common.secrets import Redactor

log = structlog.get_logger(__name__)

MAX_MESSAGE_CHARS = 400


class ProgressPump:
    """Thread-safe ``emit(stage, message)``; one task awaits the sink so messages keep their order.

    A sink that cannot reach the broker does not fail the task: the error is logged with its traceback and
    counted in ``dropped``. Any other sink error ends the pump and is raised when the pump closes.
    """

    def __init__(self, sink: Callable[[str, str], Awaitable[None]], *, redact: Redactor, label: str = "") -> None:
        self._sink = sink
        self._redact = redact
        self._label = label
        self._queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()  # None: stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.sent = 0

    async def __aenter__(self) -> ProgressPump:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._pump(), name="progress-pump")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None and self._loop is not None
        if exc_type is asyncio.CancelledError:
            self._task.cancel()
        else:  # behind every report already emitted (emit() queues through the loop as well)
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
        (outcome,) = await asyncio.gather(self._task, return_exceptions=True)
        if exc_type is None and isinstance(outcome, Exception):
            raise outcome  # a sink that failed in an unexpected way is a bug: surface it with the task

    def relabel(self, label: str) -> None:
        """Label the messages emitted from now on so (a task's offline engines narrowed to those installed)."""
        self._label = label

    def emit(self, stage: str, message: str = "") -> None:
        if self._loop is None:
            raise RuntimeError("ProgressPump used outside its context")
        text = self._redact(message if message.startswith(self._label) else self._label + message)
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[: MAX_MESSAGE_CHARS - 1] + "…"
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (stage, text))

    async def _pump(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            stage, text = item
            try:
                await self._sink(stage, text)
                self.sent += 1
            except (nats.errors.Error, OSError, TimeoutError):  # the broker is unreachable: progress is best-effort
                self.dropped += 1
                log.warning("progress_dropped", stage=stage, exc_info=True)
