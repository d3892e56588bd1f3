"""Cancel (a deadline or a cancel request) interrupts a running agent within a second and cleans up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer, Slow
from handoff.scripted_model.scripts import Script, finish, run
from tests.runners.conftest import ProgressLog, llm_settings, make_ctx, runner_settings
from tests.support.nats import eventually


def _processes_running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def _cancel_within_a_second(task: asyncio.Task[object]) -> float:
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    return time.monotonic() - started


async def test_cancel_interrupts_an_agent_waiting_for_its_llm_within_a_second(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A cancel during a slow LLM call ends the run in under a second and removes the workspace."""
    model_server.policy = lambda request: Slow(20, finish())
    source = await upload_snapshot(js, sample_project)
    before = model_server.requests
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url)))
    task = asyncio.create_task(runner.run(make_ctx(js, source, ProgressLog())))

    async def llm_called() -> bool:
        return model_server.requests > before

    await eventually(llm_called, timeout_s=30, what="the agent's first LLM call")
    assert await _cancel_within_a_second(task) < 1.0
    assert not list((tmp_path / "work").iterdir())


async def test_cancel_interrupts_a_running_terminal_command_and_kills_it(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A cancel while the agent's shell runs a long command ends the run in under a second; the command dies."""
    marker = "sleep 61.25"
    model_server.policy = Script([run(marker, timeout_s=120), finish()])
    source = await upload_snapshot(js, sample_project)
    progress = ProgressLog()
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url)))
    task = asyncio.create_task(runner.run(make_ctx(js, source, progress)))

    async def command_running() -> bool:
        return bool(_processes_running(marker))

    await eventually(command_running, timeout_s=30, what="the agent's sleep command")
    assert await _cancel_within_a_second(task) < 1.0

    async def command_gone() -> bool:
        return not _processes_running(marker)

    await eventually(command_gone, timeout_s=5, what="the agent's command to be killed")
    assert not list((tmp_path / "work").iterdir())
