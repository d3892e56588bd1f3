"""The API key reaches the LLM endpoint and nothing else: not logs, events, results, disk or the agent's shell."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec
import pytest
import structlog
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.topology import Topology
from handoff.scripted_model import Fail, ScriptedModelServer
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
)

ENV_CHECKING_TEST = (
    PASSING_TEST
    + """

def test_no_credentials_in_the_environment():
    import os

    assert not [name for name in os.environ if "API_KEY" in name or "SECRET" in name]
"""
)


async def test_the_api_key_never_leaves_the_llm_client(
    js: JetStreamContext,
    topology: Topology,
    sample_project: Path,
    tmp_path: Path,
    model_server: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The worker's env holds the key; the agent's `env`, logs, progress, result and task files do not."""
    monkeypatch.setenv("HANDOFF_LLM_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("HANDOFF_TEST_NOT_ALLOWED", "worker-only-value")
    monkeypatch.setenv("HANDOFF_TEST_ALLOWED", "passed-through")
    shell_outputs: list[str] = []

    def record(then: Reply):  # type: ignore[no-untyped-def]
        def step(request: ChatRequest) -> Reply:
            shell_outputs.append(request.last_tool_result or "")
            return then

        return step

    model_server.policy = Script(
        [
            run("env; echo key=[$HANDOFF_LLM_API_KEY] [$OPENAI_API_KEY]"),
            record(run("cat /proc/self/environ | tr '\\0' '\\n'")),
            record(run("echo done")),
            in_workspace(TEST_FILE, lambda p: create_file(p, ENV_CHECKING_TEST)),
            finish(),
        ]
    )
    source = await upload_snapshot(js, sample_project)
    progress = ProgressLog()
    settings = runner_settings(
        tmp_path, llm_settings(model_server.base_url), keep_workspaces=True, agent_env_allow=("HANDOFF_TEST_ALLOWED",)
    )
    runner = OpenHandsTestRunner(settings)
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        result = await runner.run(make_ctx(js, source, progress))

    # it passes (then adds no coverage: useless) only if no test run saw a credential
    assert verdict_of(result, "test_no_credentials_in_the_environment") == "useless", "a test run saw a credential"
    env_listing, proc_environ = shell_outputs
    assert "HOME=" in env_listing and "HANDOFF_TEST_ALLOWED=passed-through" in env_listing
    assert "key=[] []" in env_listing
    assert "HOME=" in proc_environ
    for text in (env_listing, proc_environ):
        assert API_KEY not in text
        assert "worker-only-value" not in text
    assert API_KEY not in progress.text()
    assert API_KEY not in msgspec.json.encode(result).decode()
    assert API_KEY not in repr(runner) and API_KEY not in repr(settings)
    assert API_KEY not in caplog.text and API_KEY not in repr(logs)
    out, err = capfd.readouterr()
    assert API_KEY not in out + err
    _assert_nothing_on_disk_holds_the_key(tmp_path / "work")


def _assert_nothing_on_disk_holds_the_key(work: Path) -> None:
    task_dirs = list(work.iterdir())
    assert len(task_dirs) == 1
    for path in task_dirs[0].rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert API_KEY.encode() not in path.read_bytes(), f"the key was written to {path}"
    created = task_dirs[0].stat().st_mtime
    assert not [p for p in Path("/tmp").glob("oh_editor_history_*") if p.stat().st_mtime >= created]


async def test_the_file_editor_refuses_paths_outside_the_workspace(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """An agent asked to write outside its workspace gets an error observation and nothing is written."""
    outside = tmp_path / "escaped.py"
    model_server.policy = Script(
        [
            create_file(str(outside), "x = 1\n"),
            in_workspace(TEST_FILE, lambda p: create_file(p, PASSING_TEST)),
            finish(),
        ]
    )
    source = await upload_snapshot(js, sample_project)
    progress = ProgressLog()
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, progress)
    )
    assert not outside.exists()
    assert "outside the workspace" in progress.text()
    assert result.test_files == [TEST_FILE]
    assert os.environ.get("HOME") != str(tmp_path)


async def test_an_llm_error_quoting_the_key_is_redacted_in_the_failure_and_progress(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A provider error message that echoes the key reaches neither the failure nor the progress events."""
    model_server.policy = lambda request: Fail(400, f"invalid request from key {API_KEY}")
    source = await upload_snapshot(js, sample_project)
    progress = ProgressLog()
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url)))
    with pytest.raises(PermanentFailure) as failure:
        await runner.run(make_ctx(js, source, progress))
    assert "invalid request from key ***" in failure.value.detail
    assert API_KEY not in failure.value.detail + failure.value.message + str(failure.value)
    assert "agent_error" in progress.stages() and API_KEY not in progress.text()
