"""How the client commands find Handoff without ``HANDOFF_NATS_URL``: the address a running ``handoff up`` recorded
in the data dir (whatever port it picked), and when that fails, a message that says what was recorded and why it
was not used, not only the default address that did not answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from handoff.stack.state import state_path
from tests.support.net import free_port
from tests.support.stack_record import a_finished_pid, record


def client_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A user's shell: the data dir of the stack, no URL, and a default port where nothing listens."""
    env = {**os.environ, "HANDOFF_DATA_DIR": str(data_dir), "HANDOFF_EMBEDDED_PORT": str(free_port()), **extra}
    env.pop("HANDOFF_NATS_URL", None)
    return env


def handoff(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_commands_find_an_up_on_a_random_port_and_after_it_stops_say_none_is_recorded(tmp_path: Path) -> None:
    """'up' with HANDOFF_EMBEDDED_PORT=0 picks a free port; status and submit in another shell (same data dir, no
    URL, the default port elsewhere) reach it. After Ctrl-C the same command exits 4 naming where it looked."""
    data = tmp_path / "data"
    up_env = {**os.environ, "HANDOFF_DATA_DIR": str(data), "HANDOFF_EMBEDDED_PORT": "0",
              "HANDOFF_LOG_FORMAT": "json", "HANDOFF_WORK_DIR": str(tmp_path / "work")}  # fmt: skip
    up_env.pop("HANDOFF_NATS_URL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1", "--slots", "1"],
        env=up_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert up.stdout is not None
        first = up.stdout.readline()
        assert first.startswith("Handoff is up: nats "), first
        url = first.split()[4].rstrip(",")
        assert not url.endswith(":4222")

        env = client_env(data)
        status = handoff(env, "status")
        assert status.returncode == 0, status.stderr
        submitted = handoff(env, "submit", "--sleep-s", "0")
        assert submitted.returncode == 0 and "submitted 1 task(s)" in submitted.stdout, submitted.stderr
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=90)
        if up.stdout is not None:
            up.stdout.close()

    gone = handoff(env, "status")
    assert gone.returncode == 4, gone.stderr
    assert f"no 'handoff up' is recorded in {data / 'nats' / 'stack.json'}" in gone.stderr, gone.stderr
    assert "HANDOFF_NATS_URL" in gone.stderr


def test_a_recorded_up_that_no_longer_runs_is_named_when_nothing_answers(tmp_path: Path) -> None:
    """A 'handoff up' killed hard leaves its record: the command falls back to the default address and, when nothing
    answers there either, says which up was recorded (its pid and address) and that it no longer runs."""
    pid = a_finished_pid()
    path = record(tmp_path / "data", pid=pid, url="nats://127.0.0.1:45678")
    done = handoff(client_env(tmp_path / "data"), "status")
    assert done.returncode == 4, done.stderr
    assert f"the 'handoff up' recorded in {path} (pid {pid}, nats://127.0.0.1:45678" in done.stderr, done.stderr
    assert "is no longer running: start it again with 'handoff up'" in done.stderr


def test_a_running_up_whose_server_does_not_answer_is_named_with_its_server_log(tmp_path: Path) -> None:
    """The recorded up still runs (its pid is alive) but nothing listens at its address: the command tried that
    address (not the default) and points at the up and its server's log."""
    url = f"nats://127.0.0.1:{free_port()}"
    path = record(tmp_path / "data", pid=os.getpid(), url=url)
    done = handoff(client_env(tmp_path / "data"), "status")
    assert done.returncode == 4, done.stderr
    assert f"cannot reach NATS at {url}" in done.stderr, done.stderr
    assert f"the 'handoff up' of pid {os.getpid()} recorded this address in {path} and still runs" in done.stderr
    assert str(tmp_path / "data" / "nats" / "nats-server.log") in done.stderr


@pytest.mark.slow
def test_an_up_whose_terminal_closes_stops_its_stack_and_forgets_its_record(tmp_path: Path) -> None:
    """SIGHUP (the terminal 'handoff up' runs in is closed) stops the stack as Ctrl-C does: exit 0, its nats-server
    no longer answers, and no stale record is left for the client commands (it was killed by the signal, leaving
    its server running on)."""
    data = tmp_path / "data"
    up_env = {**os.environ, "HANDOFF_DATA_DIR": str(data), "HANDOFF_EMBEDDED_PORT": "0",
              "HANDOFF_WORK_DIR": str(tmp_path / "work")}  # fmt: skip
    up_env.pop("HANDOFF_NATS_URL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1", "--slots", "1"],
        env=up_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert up.stdout is not None
        first = up.stdout.readline()
        assert first.startswith("Handoff is up: nats "), first
        port = int(first.split()[4].rstrip(",").rsplit(":", 1)[1])
        assert state_path(data / "nats").exists()
        up.send_signal(signal.SIGHUP)
        code = up.wait(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        if up.stdout is not None:
            up.stdout.close()
    assert code == 0
    assert not state_path(data / "nats").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
