"""The one retry policy for broker calls: which NATS failures are transient, and how a call is retried.

A failure is *transient* when it means "the broker is not answering right now" (a restart, a stream leader
moving, the connection reconnecting, a request that timed out), never "the request is wrong" or "the connection
is closed for good". Only transient failures are retried; every other error propagates unchanged at once.

``retry_broker_call`` retries a call with exponential backoff and jitter until it succeeds or one of the caller's
bounds ends it: a time budget (``timeout_s``), an ``abort`` event (a hard shutdown), or a number of ``attempts``.
It then raises ``BrokerUnavailable``, which each service maps onto its own error at its boundary. Calls that are
retried must be safe to repeat: lookups, and publishes that carry a ``Nats-Msg-Id`` (the stream drops a repeat).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import nats.errors
import nats.js.errors
import structlog

from handoff.common.coarse_timeout import coarse_timeout

log = structlog.get_logger(__name__)

TRANSIENT_BROKER_ERRORS: tuple[type[Exception], ...] = (
    # a request that got no answer in time: nats' TimeoutError is a builtin TimeoutError, and some nats-py calls
    # raise the bare builtin one (an enclosing asyncio.timeout cancels instead, so it never lands here)
    TimeoutError,
    nats.errors.NoRespondersError,  # no server (or no stream leader) answered the request yet
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,  # the write buffer is full while reconnecting
    nats.js.errors.NoStreamResponseError,  # the stream did not answer a publish (leader election, restart)
    nats.js.errors.ServiceUnavailableError,  # 503: JetStream not ready yet (not a ServerError subclass)
    nats.js.errors.ServerError,  # 500 from JetStream
)
"""Transient: worth another try. Everything else (a 4xx ``APIError`` such as not found or bad request, a closed
connection, a bad subject, a payload over the limit) is permanent for this call."""


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` means the broker is not answering right now (retry) rather than a permanent failure."""
    return isinstance(error, TRANSIENT_BROKER_ERRORS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Waits between tries: ``first_s`` doubling up to ``max_s``, each drawn from [wait * (1 - jitter), wait]."""

    first_s: float = 0.05
    max_s: float = 1.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.first_s <= self.max_s) or not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff needs 0 < first_s <= max_s and 0 <= jitter <= 1, got {self}")

    def waits(self) -> Iterator[float]:
        wait = self.first_s
        while True:
            yield wait * (1 - self.jitter * random.random())  # spreads retries; not for security
            wait = min(wait * 2, self.max_s)


class StopReason(StrEnum):
    TIMEOUT = "timeout"  # the time budget ran out
    ABORTED = "aborted"  # the abort event was set
    ATTEMPTS = "attempts"  # the allowed number of attempts ran out


class BrokerUnavailable(Exception):
    """Retrying stopped before the broker answered; ``last`` is the last transient error (None if never tried)."""

    def __init__(self, what: str, *, reason: StopReason, tries: int, elapsed_s: float, last: BaseException | None):
        detail = f"{type(last).__name__} {last}".strip() if last is not None else "not tried"
        super().__init__(
            f"{what}: the broker did not answer ({reason.value} after {tries} tries, {elapsed_s:.1f} s; {detail})"
        )
        self.what = what
        self.reason = reason
        self.tries = tries
        self.elapsed_s = elapsed_s
        self.last = last


async def retry_broker_call[T](
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    timeout_s: float | None = None,
    abort: asyncio.Event | None = None,
    attempts: int | None = None,
    attempt_timeout_s: float | None = None,
    backoff: Backoff = Backoff(),
) -> T:
    """``await call()``, retried on transient broker errors until it succeeds or a bound ends it.

    ``timeout_s`` is the budget for all tries and waits together (None: no budget); ``abort`` stops retrying as
    soon as it is set, also during a wait and before the first try; ``attempts`` caps the number of tries.
    ``attempt_timeout_s`` bounds each try (a request queued while the client reconnects may otherwise never be
    answered); with a budget, a try gets at most what is left of it. Non-transient errors propagate at once.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout_s if timeout_s is not None else None
    waits = backoff.waits()
    tries = 0
    last: BaseException | None = None

    def stop(reason: StopReason) -> BrokerUnavailable:
        return BrokerUnavailable(what, reason=reason, tries=tries, elapsed_s=loop.time() - started, last=last)

    while True:
        if abort is not None and abort.is_set():
            raise stop(StopReason.ABORTED) from last
        bound = attempt_timeout_s
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0 and tries > 0:
                raise stop(StopReason.TIMEOUT) from last
            bound = max(0.01, left if bound is None else min(bound, left))
        tries += 1
        try:
            if bound is None:
                return await call()
            async with coarse_timeout(bound):  # no asyncio task per call (wait_for), no loop timer per call
                return await call()
        except TRANSIENT_BROKER_ERRORS as err:
            last = err
        if attempts is not None and tries >= attempts:
            raise stop(StopReason.ATTEMPTS) from last
        wait = next(waits)
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                raise stop(StopReason.TIMEOUT) from last
            wait = min(wait, left)
        log.debug("broker not answering; retrying", what=what, attempt=tries, error=repr(last), wait_s=round(wait, 3))
        if abort is None:
            await asyncio.sleep(wait)
        else:
            try:
                await asyncio.wait_for(abort.wait(), wait)
            except TimeoutError:
                pass
