"""Every CLI verb a role is meant to use, run as that role against ``deploy/nats/nats.conf``: each succeeds and
the server reports no permission violation (``handoff wait`` as pipeline used to subscribe where it may not)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.roles import RoleClient, inbox_prefix
from tests.deploy.servers import ROLE_PASSWORDS, NatsProcess
from tests.deploy.test_services_with_role_credentials import Service, violations

pytestmark = pytest.mark.slow


def handoff_as(role: str, server: NatsProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HANDOFF_NATS_URL": server.url,
        "HANDOFF_NATS_USER": role,
        "HANDOFF_NATS_PASSWORD": ROLE_PASSWORDS[role],
        "HANDOFF_NATS_INBOX_PREFIX": inbox_prefix(role),
        "HANDOFF_SUBMIT_TIMEOUT_S": "10",
        "HANDOFF_WATCH_HEARTBEAT_S": "0.5",
    }
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


@pytest.fixture
def running(secured_server: NatsProcess, applied: object, tmp_path: Path) -> Iterator[dict[str, Service]]:
    started = {
        "generator": Service("generator", "generator", secured_server.url, tmp_path),
        "collector": Service("collector", "collector", secured_server.url, tmp_path),
    }
    yield started
    for service in started.values():
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait()


def test_each_role_runs_its_cli_verbs_without_a_permission_violation(
    secured_server: NatsProcess, running: dict[str, Service], admin: RoleClient
) -> None:
    """pipeline: submit, wait (tasks and run), watch, result, status TASK, cancel; admin: status, dlq list, topology."""
    run = f"r-{uuid.uuid4().hex[:8]}"
    expected = {
        ("pipeline", "submit", "--sleep-s", "0.2", "--count", "2", "--run-id", run, "--json"): 0,
        ("pipeline", "wait", "--run-id", run, "--timeout-s", "60"): 0,
        ("pipeline", "wait", f"{run}-0000", "--timeout-s", "60"): 0,
        ("pipeline", "watch", "--run-id", run, "--from", "start", "--until-finished"): 0,
        ("pipeline", "result", f"{run}-0001"): 0,
        ("pipeline", "status", f"{run}-0001"): 0,
        ("pipeline", "submit", "--sleep-s", "60", "--run-id", f"{run}-slow"): 0,
        ("pipeline", "cancel", f"{run}-slow-0000"): 0,
        ("pipeline", "wait", f"{run}-slow-0000", "--timeout-s", "60"): 1,  # cancelled: not succeeded
        ("admin", "status"): 0,
        ("admin", "dlq", "list"): 0,
        ("admin", "topology", "show"): 0,
    }
    outcomes = {}
    for (role, *args), code in expected.items():
        done = handoff_as(role, secured_server, *args)
        outcomes[(role, *args)] = done.returncode
        assert done.returncode == code, f"{role} {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
    assert json.loads(handoff_as("pipeline", secured_server, "status", f"{run}-0000", "--json").stdout)["state"] == (
        "succeeded"
    )
    for name, service in running.items():
        assert service.stop() == 0, f"{name} did not stop cleanly:\n{service.log()[-3000:]}"
    assert violations(secured_server) == [], outcomes
