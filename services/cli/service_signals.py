"""SIGTERM/SIGINT for a service command, from its first moment: while the service starts, a signal cancels the
start-up (which unwinds: connections closed, nothing taken); once it serves, the signal goes to its own stop.

Without this a replica stopped while it connects or binds its consumer (a scale-down, a rolling update, ``handoff
up`` stopping a child that just restarted) was killed by the signal's default action instead of exiting 0.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import TracebackType

import structlog

log = structlog.get_logger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)
SERVICE_COMMANDS = ("generator", "collector")

_early: list[signal.Signals] = []


def catch_early(argv: list[str]) -> None:
    """For a service command, before its imports and settings: remember SIGTERM/SIGINT instead of dying by them;
    ``ServiceSignals`` acts on a remembered one as soon as the event loop runs (start-up ends, exit 0)."""
    if argv[:1] and argv[0] in SERVICE_COMMANDS:
        for sig in SIGNALS:
            signal.signal(sig, lambda number, _frame: _early.append(signal.Signals(number)))


class ServiceSignals:
    """``with ServiceSignals() as signals:`` around start-up and serving; set ``on_stop`` once the service serves."""

    def __init__(self) -> None:
        self.on_stop: Callable[[], None] | None = None
        self.during_start_up = False
        self._starting = asyncio.current_task()
        self._loop = asyncio.get_running_loop()

    def __enter__(self) -> ServiceSignals:
        for sig in SIGNALS:
            self._loop.add_signal_handler(sig, self._received, sig)
        if _early:  # a signal that came while the command was still importing and reading its settings
            self._loop.call_soon(self._received, _early.pop())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig in SIGNALS:
            self._loop.remove_signal_handler(sig)

    def _received(self, sig: signal.Signals) -> None:
        log.info("signal received: shutting down", signal=sig.name, again_to_skip_grace=True)
        if self.on_stop is not None:
            self.on_stop()
        elif self._starting is not None:
            self.during_start_up = True
            self._starting.cancel()

    def stopped_during_start_up(self) -> bool:
        """In an ``except CancelledError``: True (and the cancel is consumed) when a signal stopped start-up."""
        if not self.during_start_up:
            return False
        if self._starting is not None:
            self._starting.uncancel()
        log.info("stopped during start-up, before taking any work")
        return True
