"""The start-up decision of a process that runs tasks (a generator, ``handoff up``, the demo): probe or announce."""

from __future__ import annotations

import asyncio

import structlog

from handoff.sandbox.launch import Sandbox
from handoff.sandbox.probe import probe
from handoff.sandbox.settings import SandboxSettings

log = structlog.get_logger(__name__)

UNSANDBOXED_WARNING = (
    "HANDOFF_SANDBOX=none: agents and their tests run UNSANDBOXED, as this user, with its files and network "
    "(use only for trusted code)"
)


async def check_sandbox(settings: SandboxSettings, *, who: str) -> Sandbox:
    """Probe the sandbox once (``SandboxUnavailable`` if it cannot start) or warn that there is none."""
    sandbox = await asyncio.to_thread(probe, settings)
    if sandbox.enabled:
        log.info("sandbox ready", sandbox=sandbox.mode.value, bwrap=sandbox.bwrap, process=who)
    else:
        log.warning(UNSANDBOXED_WARNING, sandbox=sandbox.mode.value, process=who)
    return sandbox
