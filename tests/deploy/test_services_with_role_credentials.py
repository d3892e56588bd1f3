"""The real services with their own credentials against ``deploy/nats/nats.conf``: nothing they do is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.client.client import HandoffClient
from handoff.client.settings import ClientSettings
from handoff.schemas import names
from handoff.schemas.events import RunFinished, Sleep, TaskStatus
from handoff.schemas.names import EventType
from tests.deploy.roles import RoleClient, inbox_prefix
from tests.deploy.servers import ROLE_PASSWORDS, NatsProcess
from tests.support.nats import eventually


class Service:
    """``handoff <command>`` in a child process, connected as ``role``."""

    def __init__(self, command: str, role: str, url: str, log_dir: Path) -> None:
        self.log_path = log_dir / f"{command}.log"
        env = {
            **os.environ,
            "HANDOFF_NATS_URL": url,
            "HANDOFF_NATS_USER": role,
            "HANDOFF_NATS_PASSWORD": ROLE_PASSWORDS[role],
            "HANDOFF_NATS_INBOX_PREFIX": inbox_prefix(role),
            "HANDOFF_APPLY_TOPOLOGY": "false",  # the deployments leave the topology to the admin role
            "HANDOFF_REPLICA_ID": f"{command}-1",
            "HANDOFF_FETCH_TIMEOUT_S": "0.5",
            "HANDOFF_COLLECTOR_IDLE_WAIT_S": "0.2",
            "HANDOFF_LOG_FORMAT": "json",
        }
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "handoff.cli.main", command],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def services(secured_server: NatsProcess, applied: object, tmp_path: Path) -> Iterator[dict[str, Service]]:
    started = {
        "generator": Service("generator", "generator", secured_server.url, tmp_path),
        "collector": Service("collector", "collector", secured_server.url, tmp_path),
    }
    yield started
    for service in started.values():
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait()


def violations(server: NatsProcess) -> list[str]:
    return [line for line in server.log.read_text(errors="replace").splitlines() if "Violation" in line]


async def test_the_services_and_the_client_work_with_only_their_roles_permissions(
    secured_server: NatsProcess, services: dict[str, Service], pipeline: RoleClient, admin: RoleClient
) -> None:
    """The real client (as pipeline), generator and collector run, cancel, watch and dead-letter work, unrefused."""
    client = HandoffClient(pipeline.nc, settings=ClientSettings.from_env({"HANDOFF_WATCH_HEARTBEAT_S": "0.5"}))
    run = f"r-{uuid.uuid4().hex[:10]}"
    quick = [await client.submit(Sleep(duration_s=0.1), run_id=run) for _ in range(3)]
    slow = await client.submit(Sleep(duration_s=60), run_id=run)
    await client.seal_run(run, 4)
    await pipeline.js.publish(names.task_subject(None, "t-malformed", EventType.SUBMITTED), b"not an event")

    finished = await client.gather(quick, timeout=30)
    assert {f.status for f in finished} == {TaskStatus.SUCCEEDED}

    async def running() -> bool:
        return (await client.status(slow)).state == "running"

    await eventually(running, timeout_s=30, interval_s=0.2, what=f"{slow} to start")
    assert await client.cancel(slow, reason="deployment test")
    assert (await client.result(slow, timeout=30)).status == TaskStatus.CANCELLED
    done = await client.wait_run(run, timeout=30)
    assert done.run_id == run
    seen = [event async for event in client.watch(run, from_start=True)]
    assert any(isinstance(e, RunFinished) for e in seen)

    async def dead_lettered() -> int:
        return (await admin.js.stream_info(names.DLQ_STREAM)).state.messages

    await eventually(dead_lettered, timeout_s=30, interval_s=0.2, what="the malformed submit in the DLQ")

    for name, service in services.items():
        assert service.stop() == 0, f"{name} did not stop cleanly:\n{service.log()[-3000:]}"
    assert violations(secured_server) == []
    pipeline.assert_no_violations()
