"""A service's /healthz answers while it is still connecting; /readyz says 503 until its consumer is bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from handoff.broker.embedded import EmbeddedNats
from tests.support.net import free_port, http_get, wait_until


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
        [sys.executable, "-m", "handoff.cli.main", actor],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: http_get(health_port, "/healthz")[0] == 200, 30, "/healthz")
        assert http_get(health_port, "/readyz")[0] == 503
        server.start()
        wait_until(lambda: http_get(health_port, "/readyz")[0] == 200, 30, "/readyz after the server came up")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        server.stop()
