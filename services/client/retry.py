"""Riding out a broker restart: the client's calls retried on transient broker errors, within a bound.

The connection reconnects by itself; calls made meanwhile fail with transient errors (``services.common.broker_retry``
defines which). Waiting calls (``result`` and friends) retry until their own deadline, which then reports
``ResultTimeoutError``; other calls give up after ``give_up_after_s`` with ``HandoffUnavailableError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.client.errors import HandoffUnavailableError
from services.common.broker_retry import BrokerUnavailable, retry_broker_call


async def retry_transient[T](call: Callable[[], Awaitable[T]], *, what: str, give_up_after_s: float) -> T:
    try:
        return await retry_broker_call(call, what=what, timeout_s=give_up_after_s)
    except BrokerUnavailable as err:
        cause = type(err.last).__name__ if err.last is not None else "no answer"
        raise HandoffUnavailableError(f"{what}: NATS did not answer for {give_up_after_s:g} s ({cause})") from err
