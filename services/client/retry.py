"""Riding out a broker restart: NATS errors that mean "not now" are retried with backoff, within a bound.

The connection reconnects by itself; calls made meanwhile fail with these errors. Waiting calls (``result`` and
friends) retry until their own deadline, which then reports ``ResultTimeoutError``; other calls give up after
``give_up_after_s`` with ``HandoffUnavailableError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

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


async def retry_transient[T](call: Callable[[], Awaitable[T]], *, what: str, give_up_after_s: float) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after_s
    delay_s = 0.05
    while True:
        try:
            return await call()
        except TRANSIENT as err:
            if loop.time() >= deadline:
                raise HandoffUnavailableError(
                    f"{what}: NATS did not answer for {give_up_after_s:g} s ({type(err).__name__})"
                ) from err
            log.debug("NATS not answering; retrying", what=what, error=type(err).__name__)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 1.0)
