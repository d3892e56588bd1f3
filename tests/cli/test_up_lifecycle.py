"""``handoff up`` as a terminal user meets it: bad settings stop it before anything starts (exit 2, naming the
setting), and Ctrl-C (SIGINT to the whole foreground process group) stops generators, collector, then the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.net import free_port_range, http_get, wait_until

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
    health = free_port_range(2)  # the collector's port and the generator's after it
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


def _read_log(path: Path) -> str:
    return path.read_text() if path.exists() else ""


@pytest.mark.timeout(300)
def test_ctrl_c_waits_for_a_task_within_its_shutdown_grace_even_past_45_s(tmp_path: Path) -> None:
    """HANDOFF_SHUTDOWN_GRACE_S=70: a 52 s task running at Ctrl-C finishes; the generator is not killed and exits."""
    env = up_env(tmp_path, HANDOFF_SHUTDOWN_GRACE_S="70")
    logs = tmp_path / "data" / "logs"
    with (tmp_path / "up.err").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1", "--slots", "1"],
            env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Handoff is up"), first
        submitted = subprocess.run(
            [sys.executable, "-m", "handoff.cli.main", "submit", "--sleep-s", "52"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        wait_until(lambda: "task started" in _read_log(logs / "generator-1.log"), 90, "the sleep task to start")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        rest = proc.stdout.read()
        assert proc.wait(timeout=200) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert "stopped" in rest
    assert "did not stop in time" not in (tmp_path / "up.err").read_text()
    generator_log = (logs / "generator-1.log").read_text()
    finished = [json.loads(line) for line in generator_log.splitlines() if '"task finished"' in line]
    assert [f["status"] for f in finished] == ["succeeded"], generator_log[-2000:]
    assert "generator stopped" in generator_log


def test_a_child_stop_timeout_shorter_than_a_childs_grace_is_warned_about_at_start_up(tmp_path: Path) -> None:
    """HANDOFF_UP_CHILD_STOP_TIMEOUT_S=5 with a 30 s grace: a warning names the setting and each child's need."""
    env = up_env(tmp_path, HANDOFF_UP_CHILD_STOP_TIMEOUT_S="5", HANDOFF_SHUTDOWN_GRACE_S="30")
    with (tmp_path / "up.err").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1"],
            env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Handoff is up"), first
        os.killpg(proc.pid, signal.SIGINT)
        proc.stdout.read()
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    warnings = [json.loads(line) for line in (tmp_path / "up.err").read_text().splitlines()
                if "HANDOFF_UP_CHILD_STOP_TIMEOUT_S is shorter" in line]  # fmt: skip
    assert len(warnings) == 1, (tmp_path / "up.err").read_text()
    # generator: fetch 1 + grace 30 + interrupt grace 10 + publish 5 + abort wait 2; collector: grace 30 + publish 5
    assert warnings[0]["needed_s"] == {"collector": 35.0, "generator-1": 48.0}
