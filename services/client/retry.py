"""Riding out a broker restart: the client's calls retried on transient broker errors, within a bound.

The connection reconnects by itself; calls made meanwhile fail with transient errors (``handoff.common.broker_retry``
defines which, for every Handoff service). The bound is the caller's deadline when one is set (``within_deadline``:
``result``, ``as_completed``, ``wait_run`` and ``handoff wait`` set their own timeout), else ``give_up_after_s``
(``HANDOFF_SUBMIT_TIMEOUT_S``). Either way a look-up that NATS does not answer in time ends with
``HandoffUnavailableError`` (the CLI's exit 4), never with a timeout that would read as "the work is still going".
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from handoff.client.errors import HandoffUnavailableError
from handoff.common.broker_retry import BrokerUnavailable, retry_broker_call

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
    caller = _caller_deadline.get()
    budget_s = give_up_after_s if caller is None else caller - loop.time()
    bound_s = None if not math.isfinite(budget_s) else max(budget_s, 0.05)  # one try is always made
    try:
        return await retry_broker_call(call, what=what, timeout_s=bound_s)
    except BrokerUnavailable as err:
        cause = type(err.last).__name__ if err.last is not None else "no answer"
        raise HandoffUnavailableError(f"{what}: NATS did not answer for {err.elapsed_s:.1f} s ({cause})") from err
