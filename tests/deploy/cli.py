"""``handoff <verb>`` as a child process connected as one of the deploy/ roles."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.deploy.roles import inbox_prefix
from tests.deploy.servers import ROLE_PASSWORDS, NatsProcess


def handoff_as(
    role: str, server: NatsProcess, *args: str, env: dict[str, str] | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "HANDOFF_NATS_URL": server.url,
        "HANDOFF_NATS_USER": role,
        "HANDOFF_NATS_PASSWORD": ROLE_PASSWORDS[role],
        "HANDOFF_NATS_INBOX_PREFIX": inbox_prefix(role),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *args],
        env=full_env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
