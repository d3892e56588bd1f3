"""A hostile agent in its sandbox: nothing of the worker is readable, nothing outside the task is written, no
process outlives the task (its end or a cancel); and validation's pytest runs sandboxed too. The LLM is the
scripted model; the agent's terminal, bubblewrap and pytest are real."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.sandbox import SandboxMode, SandboxSettings
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply
from handoff.scripted_model.scripts import Script, create_file, finish, run
from tests.runners.conftest import (
    API_KEY,
    PASSING_TEST,
    TEST_FILE,
    ProgressLog,
    in_workspace,
    llm_settings,
    make_ctx,
    runner_settings,
    verdict_of,
    workspace_of,
)
from tests.support.nats import eventually

NATS_PASSWORD = f"nats-pw-{uuid.uuid4().hex}"
HOME_SECRET = f"home-secret-{uuid.uuid4().hex}"
DATA_SECRET = f"data-secret-{uuid.uuid4().hex}"


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def sandbox_checking_test(outside: list[Path]) -> str:
    """A test module whose extra test tries to escape the validation run and asserts it could not."""
    return (
        PASSING_TEST
        + f"""

def test_the_validation_run_is_sandboxed():
    import os
    import pathlib

    for path in {[str(p) for p in outside]!r}:
        try:
            pathlib.Path(path).write_text("escaped")
        except OSError:
            pass
    seen = pathlib.Path(f"/proc/{{os.getppid()}}/environ").read_bytes() + pathlib.Path("/proc/1/environ").read_bytes()
    assert b"HANDOFF_NATS_PASSWORD" not in seen
    assert len([name for name in os.listdir("/proc") if name.isdigit()]) < 10
"""
    )


class Worker:
    """The worker's secrets: an env var, a file in its HOME and one in its data dir."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.home = tmp_path / "worker-home"
        self.data = tmp_path / "worker-data"
        self.work = tmp_path / "work"
        for path in (self.home, self.data):
            path.mkdir()
        (self.home / "credentials").write_text(HOME_SECRET)
        (self.data / "secret.txt").write_text(DATA_SECRET)
        monkeypatch.setenv("HOME", str(self.home))
        monkeypatch.setenv("HANDOFF_DATA_DIR", str(self.data))
        monkeypatch.setenv("HANDOFF_NATS_PASSWORD", NATS_PASSWORD)
        monkeypatch.setenv("HANDOFF_LLM_API_KEY", API_KEY)

    def outside(self, name: str) -> list[Path]:
        """Places outside the task a hostile command would write ``name`` to."""
        return [Path("/tmp") / name, self.home / name, self.data / name, self.work / name]


def _recording(outputs: list[str], then: Callable[[ChatRequest], Reply] | Reply) -> Callable[[ChatRequest], Reply]:
    def step(request: ChatRequest) -> Reply:
        outputs.append(request.last_tool_result or "")
        return then(request) if callable(then) else then

    return step


async def test_a_hostile_agent_reads_nothing_of_the_worker_writes_nothing_outside_and_leaves_no_process(
    js: JetStreamContext,
    topology: Topology,
    sample_project: Path,
    tmp_path: Path,
    model_server: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """environ of PPID and PID 1, env, ls /proc, writes outside, reads of secret files, a setsid child: contained."""
    worker = Worker(tmp_path, monkeypatch)
    marker = f"escaped-{uuid.uuid4().hex[:8]}"
    sleeper = f"sleep 300.{uuid.uuid4().int % 10**6:06d}"
    outputs: list[str] = []
    writes = "; ".join(f"echo escaped > {p}" for p in worker.outside(marker))
    validation_test = sandbox_checking_test(worker.outside(f"{marker}-validation"))
    model_server.policy = Script(
        [
            run("cat /proc/$PPID/environ | tr '\\0' '\\n'; echo; cat /proc/1/environ | tr '\\0' '\\n'; echo; env"),
            _recording(outputs, run("ls /proc")),
            _recording(outputs, lambda r: run(f"{writes}; echo escaped > {workspace_of(r).parent / marker}; true")),
            _recording(outputs, run(f"cat {worker.home}/credentials {worker.data}/secret.txt; ls {worker.work}")),
            _recording(outputs, run(f"setsid {sleeper} > /dev/null 2>&1 & echo started")),
            _recording(outputs, in_workspace(TEST_FILE, lambda p: create_file(p, validation_test))),
            finish(),
        ]
    )
    source = await upload_snapshot(js, sample_project)
    progress = ProgressLog()
    settings = runner_settings(
        tmp_path, llm_settings(model_server.base_url), keep_workspaces=True, work_dir=worker.work
    )
    runner = OpenHandsTestRunner(settings)
    result = await runner.run(make_ctx(js, source, progress))

    assert _processes_with(sleeper) == [], "a setsid child of the agent outlived its task"
    environs, proc_listing, _writes, reads, started = outputs[:5]
    assert "HOME=" in environs and "PATH=" in environs, "the commands did not run"
    assert "started" in started
    pids = [int(word) for word in proc_listing.split() if word.isdigit()]
    assert pids and max(pids) < 100 and len(pids) < 10, f"/proc shows processes outside the sandbox: {pids}"
    everything = "\n".join([*outputs, progress.text(), msgspec.json.encode(result).decode()])
    for secret in (NATS_PASSWORD, API_KEY, HOME_SECRET, DATA_SECRET, "HANDOFF_NATS_PASSWORD"):
        assert secret not in everything, f"{secret} reached the agent or the result"
    assert "No such file or directory" in reads
    (task_root,) = worker.work.iterdir()
    for name in (marker, f"{marker}-validation"):
        for path in [*worker.outside(name), task_root / name]:
            assert not path.exists(), f"the sandbox let the task write {path}"
    # it passes (then adds no coverage: useless) only if the sandbox held in every run of it
    assert verdict_of(result, "test_the_validation_run_is_sandboxed") == "useless", "a test run escaped its sandbox"
    assert result.sandbox == "bwrap"


async def test_without_the_sandbox_the_same_validation_run_escapes(
    js: JetStreamContext,
    topology: Topology,
    sample_project: Path,
    tmp_path: Path,
    model_server: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Control: with HANDOFF_SANDBOX=none the escaping test writes outside and sees the worker's env, so it fails
    (and is dropped; the other tests are handed over)."""
    worker = Worker(tmp_path, monkeypatch)
    marker = f"unsandboxed-{uuid.uuid4().hex[:8]}"
    model_server.policy = Script(
        [in_workspace(TEST_FILE, lambda p: create_file(p, sandbox_checking_test(worker.outside(marker)))), finish()]
    )
    source = await upload_snapshot(js, sample_project)
    settings = runner_settings(
        tmp_path, llm_settings(model_server.base_url), feedback_rounds=0, work_dir=worker.work,
        sandbox=SandboxSettings(mode=SandboxMode.NONE),
    )  # fmt: skip
    try:
        result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, ProgressLog()))
        assert verdict_of(result, "test_the_validation_run_is_sandboxed") == "failed"
        assert (Path("/tmp") / marker).exists() and (worker.home / marker).exists()
    finally:
        (Path("/tmp") / marker).unlink(missing_ok=True)


async def test_an_unsandboxed_result_says_so(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """HANDOFF_SANDBOX=none is announced in the progress, the result's sandbox field and its summary."""
    model_server.policy = Script([in_workspace(TEST_FILE, lambda p: create_file(p, PASSING_TEST)), finish()])
    source = await upload_snapshot(js, sample_project)
    progress = ProgressLog()
    settings = runner_settings(
        tmp_path, llm_settings(model_server.base_url), sandbox=SandboxSettings(mode=SandboxMode.NONE)
    )
    result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress))
    assert result.sandbox == "none"
    assert "UNSANDBOXED" in result.summary and "UNSANDBOXED" in progress.text()
    shutil.rmtree(tmp_path / "work", ignore_errors=True)


async def test_cancel_kills_the_whole_sandbox_setsid_children_included(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A cancel while the agent's command runs: the command and a `setsid` child it started are gone at once."""
    detached = f"sleep 301.{uuid.uuid4().int % 10**6:06d}"
    waiting = f"sleep 62.{uuid.uuid4().int % 10**6:06d}"
    model_server.policy = Script([run(f"setsid {detached} > /dev/null 2>&1 & {waiting}", timeout_s=120), finish()])
    source = await upload_snapshot(js, sample_project)
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url)))
    task = asyncio.create_task(runner.run(make_ctx(js, source, ProgressLog())))

    async def both_running() -> bool:
        return bool(_processes_with(detached)) and bool(_processes_with(waiting))

    await eventually(both_running, timeout_s=60, what="the agent's command and its setsid child")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    assert _processes_with(detached) == [] and _processes_with(waiting) == []
