"""A service's /healthz answers while it is still connecting; /readyz says 503 until its consumer is bound."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from services.broker.embedded import EmbeddedNats


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_of(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:
        return 0  # not listening


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("actor", ["generator", "collector"])
def test_readyz_is_503_until_the_consumer_is_bound_then_200(actor: str, tmp_path: Path) -> None:
    """Started before its NATS server exists, the service is alive but not ready; once bound it is ready."""
    nats_port, health_port = free_port(), free_port()
    server = EmbeddedNats(data_dir=tmp_path / "nats", port=nats_port)
    env = {
        **os.environ,
        "HANDOFF_NATS_URL": f"nats://127.0.0.1:{nats_port}",
        "HANDOFF_NATS_CONNECT_ATTEMPTS": "200",
        "HANDOFF_NATS_RECONNECT_WAIT_S": "0.1",
        "HANDOFF_NATS_CONNECT_TIMEOUT_S": "0.5",
        "HANDOFF_HEALTH_PORT": str(health_port),
        "HANDOFF_SCRIPTED_MODEL": "true",
        "HANDOFF_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", actor],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: status_of(health_port, "/healthz") == 200, 30, "/healthz")
        assert status_of(health_port, "/readyz") == 503
        server.start()
        wait_for(lambda: status_of(health_port, "/readyz") == 200, 30, "/readyz after the server came up")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        server.stop()
