"""Riding out a broker restart: NATS errors that mean "not now" are retried with backoff, within a bound.

The connection reconnects by itself; calls made meanwhile fail with these errors. The bound is the caller's
deadline when one is set (``within_deadline``: ``result``, ``as_completed``, ``wait_run`` and ``handoff wait`` set
their own timeout), else ``give_up_after_s`` (``HANDOFF_SUBMIT_TIMEOUT_S``). Either way a look-up that NATS does not
answer in time ends with ``HandoffUnavailableError`` (the CLI's exit 4), never with a timeout that would read as
"the work is still going".
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import nats.errors
import structlog
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

from services.client.errors import HandoffUnavailableError

log = structlog.get_logger(__name__)

TRANSIENT: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError,  # not the builtin TimeoutError: that one is how asyncio.timeout ends a wait
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    NoStreamResponseError,
    ServiceUnavailableError,
)

# The caller's deadline (event-loop time; math.inf for none), when a waiting call set one.
_caller_deadline: ContextVar[float | None] = ContextVar("handoff_caller_deadline", default=None)


@contextmanager
def within_deadline(deadline: float | None) -> Iterator[None]:
    """Look-ups inside retry until ``deadline`` (loop time, None for no limit) instead of ``give_up_after_s``."""
    token = _caller_deadline.set(math.inf if deadline is None else deadline)
    try:
        yield
    finally:
        _caller_deadline.reset(token)


async def retry_transient[T](call: Callable[[], Awaitable[T]], *, what: str, give_up_after_s: float) -> T:
    loop = asyncio.get_running_loop()
    started = loop.time()
    caller = _caller_deadline.get()
    deadline = caller if caller is not None else started + give_up_after_s
    delay_s = 0.05
    while True:
        remaining = deadline - loop.time()
        # One try is always made; a try that would outlive the deadline is cut at it.
        bound = asyncio.timeout(max(remaining, 0.05) if math.isfinite(remaining) else None)
        try:
            async with bound:
                return await call()
        except TRANSIENT as err:
            failure: BaseException = err
        except TimeoutError as err:
            if not bound.expired():
                raise  # an outer wait ended, not ours
            failure = err
        if loop.time() >= deadline:
            raise HandoffUnavailableError(
                f"{what}: NATS did not answer for {loop.time() - started:.1f} s ({type(failure).__name__})"
            ) from failure
        log.debug("NATS not answering; retrying", what=what, error=type(failure).__name__)
        await asyncio.sleep(min(delay_s, max(deadline - loop.time(), 0.0)))
        delay_s = min(delay_s * 2, 1.0)
