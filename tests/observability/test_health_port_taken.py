"""A health port that is already taken is a settings problem said as such (exit 2, naming the port and where it
comes from), not "NATS unavailable"; `handoff up` finds it before it starts anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port, free_port_range


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("actor", ["generator", "collector"])
def test_a_service_whose_health_port_is_taken_exits_2_naming_the_port(
    actor: str, held_port: int, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "HANDOFF_NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "HANDOFF_HEALTH_PORT": str(held_port),
        "HANDOFF_SCRIPTED_MODEL": "true",
        "HANDOFF_DATA_DIR": str(tmp_path / "data"),
        "HANDOFF_WORK_DIR": str(tmp_path / "work"),
    }
    done = subprocess.run([sys.executable, "-m", "handoff.cli.main", actor], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"port {held_port}" in done.stderr and "HANDOFF_HEALTH_PORT" in done.stderr, done.stderr
    assert "NATS unavailable" not in done.stderr


def test_up_refuses_a_health_base_port_whose_generator_port_is_taken(tmp_path: Path) -> None:
    """The collector would take the base, the generator the next port, which another process holds: up exits 2
    naming that port before it starts a server or a child."""
    base = free_port_range(2)
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", base + 1))
        sock.listen()
        env = {**os.environ, "HANDOFF_DATA_DIR": str(tmp_path / "data"), "HANDOFF_EMBEDDED_PORT": "0",
               "HANDOFF_WORK_DIR": str(tmp_path / "work")}  # fmt: skip
        env.pop("HANDOFF_NATS_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1", "--health-base-port", str(base)],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"port {base + 1}" in done.stderr and "--health-base-port" in done.stderr, done.stderr
    assert "Handoff is up" not in done.stdout
