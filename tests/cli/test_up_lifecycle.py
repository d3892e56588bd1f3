"""``handoff up`` as a terminal user meets it: bad settings stop it before anything starts (exit 2, naming the
setting), and Ctrl-C (SIGINT to the whole foreground process group) stops generators, collector, then the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.net import free_port, http_get, wait_until

pytestmark = pytest.mark.slow


def up_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HANDOFF_DATA_DIR": str(tmp_path / "data"),
        "HANDOFF_EMBEDDED_PORT": "0",
        "HANDOFF_LOG_FORMAT": "json",
        "HANDOFF_WORK_DIR": str(tmp_path / "work"),
        **extra,
    }
    env.pop("HANDOFF_NATS_URL", None)
    return env


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({"HANDOFF_GENERATOR_SLOTS": "abc"}, [], "HANDOFF_GENERATOR_SLOTS"),
        ({"HANDOFF_GENERATOR_SLOTS": "0"}, [], "HANDOFF_GENERATOR_SLOTS"),
        ({"HANDOFF_GENERATOR_SLOTS": "-1"}, [], "HANDOFF_GENERATOR_SLOTS"),
        ({}, ["--slots", "-1"], "--slots"),
        ({}, ["--slots", "0"], "--slots"),
        ({}, ["--generators", "0"], "--generators"),
        ({"HANDOFF_LOG_LEVEL": "loud"}, [], "HANDOFF_LOG_LEVEL"),
        ({"HANDOFF_EMBEDDED_PORT": "99999"}, [], "HANDOFF_EMBEDDED_PORT"),
        ({"HANDOFF_COLLECTOR_BATCH": "many"}, [], "HANDOFF_COLLECTOR_BATCH"),
    ],
    ids=lambda v: str(v),
)
def test_up_with_an_invalid_setting_exits_2_naming_it_before_starting_anything(
    tmp_path: Path, env: dict[str, str], args: list[str], named: str
) -> None:
    """No 'Handoff is up', no server, no crash-looping child: exit 2 and the setting's name on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", "up", *args],
        env=up_env(tmp_path, **env), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert named in done.stderr and "Handoff is up" not in done.stdout
    assert not (tmp_path / "data" / "nats" / "nats-server.log").exists()


def test_ctrl_c_stops_the_generators_and_collector_before_the_server(tmp_path: Path) -> None:
    """SIGINT to the terminal's process group: the server is not interrupted; up stops it (SIGTERM) after the rest."""
    health = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1", "--slots", "1",
         "--health-base-port", str(health)],
        env=up_env(tmp_path, HANDOFF_SHUTDOWN_GRACE_S="1"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,  # a process group of its own, as a shell gives a foreground job
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Handoff is up"), first
        while "Ctrl-C stops everything" not in proc.stdout.readline():
            pass
        wait_until(lambda: http_get(health + 1, "/readyz")[0] == 200, 90, "the generator to be ready")
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        rest = proc.stdout.read()
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert "stopped" in rest
    server_log = (tmp_path / "data" / "nats" / "nats-server.log").read_text()
    assert 'Trapped "interrupt" signal' not in server_log
    assert 'Trapped "terminated" signal' in server_log
    generator_log = (tmp_path / "data" / "logs" / "generator-1.log").read_text()
    assert "generator stopped" in generator_log
