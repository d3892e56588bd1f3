"""``async with coarse_timeout(seconds):`` like ``asyncio.timeout``, sharing one loop timer per 50 ms of deadlines.

Every broker call is bounded (``handoff.common.broker_retry``): ten and more per task. ``asyncio.timeout`` puts a
timer on the loop's heap for each and takes it off again, which is most of the loop's timer work at thousands of
tasks per second. Broker calls are bounded in seconds, so a deadline may fire up to ``RESOLUTION_S`` late: the
deadlines of one such slot share a timer, and leaving the block is a set removal.

Semantics as ``asyncio.timeout``'s: when the deadline passes, the task is cancelled, and the cancellation leaves
the block as ``TimeoutError``; a cancellation from elsewhere stays a ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType

RESOLUTION_S = 0.05
"""How late a deadline may fire: deadlines are rounded up to a multiple of this."""


class _Slot:
    __slots__ = ("handle", "waiting")

    def __init__(self) -> None:
        self.waiting: set[_Timeout] = set()
        self.handle: asyncio.TimerHandle | None = None


class _Slots:
    """The shared timers of one event loop: slot number -> the blocks whose deadline falls in it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.slots: dict[int, _Slot] = {}

    def add(self, timeout: _Timeout, when: float) -> int:
        number = math.ceil(when / RESOLUTION_S)
        slot = self.slots.get(number)
        if slot is None:
            slot = self.slots[number] = _Slot()
            slot.handle = self.loop.call_at(number * RESOLUTION_S, self._fire, number)
        slot.waiting.add(timeout)
        return number

    def remove(self, timeout: _Timeout, number: int) -> None:
        slot = self.slots.get(number)
        if slot is None:
            return
        slot.waiting.discard(timeout)
        if not slot.waiting:
            del self.slots[number]
            if slot.handle is not None:
                slot.handle.cancel()

    def _fire(self, number: int) -> None:
        slot = self.slots.pop(number, None)
        if slot is not None:
            for timeout in slot.waiting:
                timeout.expire()


_by_loop: dict[asyncio.AbstractEventLoop, _Slots] = {}


def _slots() -> _Slots:
    loop = asyncio.get_running_loop()
    slots = _by_loop.get(loop)
    if slots is None:
        for old in [old for old in _by_loop if old.is_closed()]:  # loops of earlier asyncio.run() calls
            del _by_loop[old]
        slots = _by_loop[loop] = _Slots(loop)
    return slots


class _Timeout:
    __slots__ = ("_cancelling", "_expired", "_number", "_seconds", "_slots", "_task")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._expired = False
        self._number = -1
        self._cancelling = 0

    async def __aenter__(self) -> _Timeout:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("coarse_timeout() must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._slots = _slots()
        self._number = self._slots.add(self, self._slots.loop.time() + self._seconds)
        return self

    def expire(self) -> None:
        if not self._expired:
            self._expired = True
            self._task.cancel()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._slots.remove(self, self._number)
        if self._expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc


def coarse_timeout(seconds: float) -> _Timeout:
    """A block that raises ``TimeoutError`` after ``seconds`` (up to ``RESOLUTION_S`` later)."""
    return _Timeout(seconds)
