"""The start-up check: a generator or ``handoff up`` without a working sandbox exits 2 naming the fix, at once;
HANDOFF_SANDBOX=none is accepted and announced; the demo falls back to none for its own sample, and says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handoff.broker.embedded import EmbeddedNats
from handoff.demo.run import choose_sandbox
from tests.generator.processes import replica_env


def handoff(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *args], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_a_generator_without_bwrap_on_its_path_exits_2_and_names_the_fix(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    """HANDOFF_SANDBOX=bwrap with a PATH holding no bwrap: exit 2 before any task, with the three ways out."""
    env = replica_env(nats_server.url, "no-bwrap", {"HANDOFF_SANDBOX": "bwrap", "PATH": str(tmp_path)})
    done = handoff("generator", env=env)
    assert done.returncode == 2, done.stderr
    assert "`bwrap` binary is not on PATH" in done.stderr
    for fix in ("apt-get install bubblewrap", "HANDOFF_SANDBOX=none", "securityContext"):
        assert fix in done.stderr
    assert "Traceback" not in done.stderr


def test_handoff_up_without_bwrap_exits_2_before_starting_anything(tmp_path: Path) -> None:
    """`handoff up` checks the sandbox its generators need first: exit 2, no server started."""
    env = {"PATH": str(tmp_path), "HANDOFF_DATA_DIR": str(tmp_path / "data"), "HANDOFF_EMBEDDED_PORT": "0"}
    done = handoff("up", "--generators", "1", env=env)
    assert done.returncode == 2, done.stderr
    assert "apt-get install bubblewrap" in done.stderr
    assert "Handoff is up" not in done.stdout and not (tmp_path / "data").exists()


def test_an_unsandboxed_generator_starts_and_announces_it(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    """HANDOFF_SANDBOX=none needs no bwrap: the generator gets past the check and logs an UNSANDBOXED warning."""
    env = replica_env(nats_server.url, "unsandboxed", {"HANDOFF_SANDBOX": "none", "PATH": str(tmp_path)})
    done = handoff("generator", env=env)
    assert done.returncode == 4, done.stderr  # it went on to the broker: no topology there
    assert "UNSANDBOXED" in done.stderr + done.stdout and "warning" in done.stderr + done.stdout


def test_a_generator_with_bwrap_starts_sandboxed(nats_server: EmbeddedNats) -> None:
    """Control: with bubblewrap installed the check passes and says so; the generator goes on to the broker."""
    done = handoff("generator", env=replica_env(nats_server.url, "sandboxed", {"HANDOFF_SANDBOX": "bwrap"}))
    assert done.returncode == 4, done.stderr
    assert "sandbox ready" in done.stderr + done.stdout and "UNSANDBOXED" not in done.stderr + done.stdout


def test_the_demo_runs_its_sample_unsandboxed_where_bwrap_cannot_start_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No bwrap and no HANDOFF_SANDBOX: the demo picks none for its own generators and names the fix."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HANDOFF_SANDBOX", "")  # undone after the test, whatever choose_sandbox sets
    said = choose_sandbox()
    assert os.environ["HANDOFF_SANDBOX"] == "none"
    assert "UNSANDBOXED" in said and "apt-get install bubblewrap" in said


def test_the_demo_uses_the_sandbox_where_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: with bubblewrap available the demo's generators keep the default sandbox."""
    monkeypatch.setenv("HANDOFF_SANDBOX", "")
    assert choose_sandbox() == "tasks run in a bubblewrap sandbox"
    assert os.environ["HANDOFF_SANDBOX"] == ""
