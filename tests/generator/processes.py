"""Generator replicas as separate processes (``handoff generator``), for tests that kill or signal them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from handoff.schemas.topology import TopologyParams
from tests.support.nats import FAST_TOPOLOGY


def replica_env(
    url: str, replica_id: str, extra: Mapping[str, str] | None = None, *, topology: TopologyParams = FAST_TOPOLOGY
) -> dict[str, str]:
    return {
        **os.environ,
        "HANDOFF_NATS_URL": url,
        "HANDOFF_REPLICA_ID": replica_id,
        "HANDOFF_APPLY_TOPOLOGY": "false",
        "HANDOFF_ACK_WAIT_S": str(topology.ack_wait_s),
        "HANDOFF_MAX_DELIVER": str(topology.max_deliver),
        "HANDOFF_RETRY_BACKOFF_S": ",".join(str(s) for s in topology.retry_backoff_s),
        "HANDOFF_MAX_IN_FLIGHT": str(topology.max_ack_pending),
        "HANDOFF_FETCH_TIMEOUT_S": "0.5",
        "HANDOFF_NATS_RECONNECT_WAIT_S": "0.1",
        "HANDOFF_LOG_FORMAT": "json",
        **(extra or {}),
    }


class ReplicaProcess:
    def __init__(self, url: str, replica_id: str, log_dir: Path, **extra: str) -> None:
        self.replica_id = replica_id
        self.log_path = log_dir / f"{replica_id}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "handoff.cli.main", "generator"],
            env=replica_env(url, replica_id, extra),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def terminate(self, timeout_s: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._log.close()
