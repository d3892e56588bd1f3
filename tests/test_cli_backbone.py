"""The handoff command, run as a user runs it (a subprocess), against real servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from handoff.broker.embedded import EmbeddedNats


def handoff(*args: str, env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *args],
        env={**os.environ, "HANDOFF_LOG_FORMAT": "json", **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_topology_apply_twice_reports_unchanged_the_second_time(nats_server: EmbeddedNats) -> None:
    """'handoff topology apply' creates on the first run and prints 'topology unchanged' on the second."""
    env = {"HANDOFF_NATS_URL": nats_server.url}
    first = handoff("topology", "apply", env=env)
    second = handoff("topology", "apply", env=env)
    assert first.returncode == 0, first.stderr
    assert "stream HANDOFF_EVENTS: created" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "topology unchanged" in second.stdout
    assert "created" not in second.stdout and "updated" not in second.stdout


def test_roundtrip_runs_on_the_embedded_server_and_stops_it(tmp_path: Path) -> None:
    """With no NATS URL, 'handoff roundtrip' starts its own nats-server, round-trips an event, stops it."""
    env = {"HANDOFF_DATA_DIR": str(tmp_path), "HANDOFF_EMBEDDED_PORT": "0", "HANDOFF_NATS_URL": ""}
    done = handoff("roundtrip", env=env)
    assert done.returncode == 0, done.stderr
    assert "read it back identical" in done.stdout
    assert (tmp_path / "nats" / "jetstream").is_dir()
    ps = subprocess.run(["pgrep", "-f", f"-sd {tmp_path}"], capture_output=True, text=True, check=False)
    assert ps.stdout.strip() == "", "the embedded nats-server outlived the command"


def test_unreachable_nats_is_a_clear_error_with_its_own_exit_code(tmp_path: Path) -> None:
    """Pointing at a port nobody listens on exits 4 with a message, not a traceback."""
    done = handoff(
        "topology",
        "apply",
        env={"HANDOFF_NATS_URL": "nats://127.0.0.1:1", "HANDOFF_NATS_CONNECT_TIMEOUT_S": "0.5"},
    )
    assert done.returncode == 4, done.stderr
    assert "cannot apply topology" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_setting_is_a_usage_error_naming_the_variable() -> None:
    """HANDOFF_MAX_IN_FLIGHT=lots exits 2 and names the variable."""
    done = handoff("topology", "show", env={"HANDOFF_MAX_IN_FLIGHT": "lots"})
    assert done.returncode == 2
    assert "HANDOFF_MAX_IN_FLIGHT must be an integer" in done.stderr


def test_schemas_check_passes_on_the_committed_files() -> None:
    """'handoff schemas check' agrees that schemas/json is current."""
    done = handoff("schemas", "check", env={})
    assert done.returncode == 0, done.stderr


def test_submit_refuses_a_bad_python_version_or_extra_package_before_connecting(tmp_path: Path) -> None:
    """--python 3 and --extra-package '-e .' are usage errors (exit 2) naming the option; no server is needed."""
    (tmp_path / "mod.py").write_text("X = 1\n")
    env = {"HANDOFF_NATS_URL": "nats://127.0.0.1:1"}  # nothing listens: a connection attempt would be exit 4
    bad_python = handoff("submit", "--repo", str(tmp_path), "mod.py", "--python", "3", env=env)
    bad_package = handoff("submit", "--repo", str(tmp_path), "mod.py", "--extra-package=-e .", env=env)
    for done in (bad_python, bad_package):
        assert done.returncode == 2, done.stderr
        assert "--python X.Y / --extra-package" in done.stderr
