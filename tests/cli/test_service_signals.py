"""A service replica stopped while it is still starting (connecting, binding) exits 0, not killed by the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.net import free_port


@pytest.mark.parametrize("service", ["generator", "collector"])
def test_a_replica_sent_sigterm_while_it_connects_stops_cleanly_with_exit_0(service: str, tmp_path: Path) -> None:
    """SIGTERM while the replica is still trying to reach NATS: 'stopped during start-up', exit code 0 (was -15)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")} | {
        "HANDOFF_NATS_URL": f"nats://127.0.0.1:{free_port()}",  # nothing listens: start-up keeps connecting
        "HANDOFF_NATS_CONNECT_ATTEMPTS": "1000",
        "HANDOFF_NATS_CONNECT_TIMEOUT_S": "1",
        "HANDOFF_DATA_DIR": str(tmp_path / "data"),
        "HANDOFF_WORK_DIR": str(tmp_path / "work"),
        "HANDOFF_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen([sys.executable, "-m", "handoff.cli.main", service], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: list[str] = []
    connecting = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "nats connect attempt failed" in line:
                connecting.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert connecting.wait(90), "".join(lines)
        time.sleep(0.2)  # well inside the connect attempts, which go on for minutes
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    assert proc.stdout is not None
    proc.stdout.close()
    output = "".join(lines)
    assert code == 0, output
    assert "stopped during start-up, before taking any work" in output
