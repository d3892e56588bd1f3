"""The real services with their own credentials against ``deploy/nats/nats.conf``: nothing they do is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js.errors import KeyNotFoundError, NotFoundError

from schemas import names
from schemas.codec import encode
from schemas.events import RunSealed, Sleep, TaskSubmitted
from schemas.names import EventType, Header
from services.common.clock import utcnow
from tests.deploy.roles import RoleClient
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
            "HANDOFF_APPLY_TOPOLOGY": "false",  # the deployments leave the topology to the admin role
            "HANDOFF_REPLICA_ID": f"{command}-1",
            "HANDOFF_FETCH_TIMEOUT_S": "0.5",
            "HANDOFF_COLLECTOR_IDLE_WAIT_S": "0.2",
            "HANDOFF_LOG_FORMAT": "json",
        }
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", command],
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


async def test_generator_and_collector_finish_a_run_with_only_their_roles_permissions(
    secured_server: NatsProcess, services: dict[str, Service], pipeline: RoleClient, admin: RoleClient
) -> None:
    """A pipeline submits a run and a malformed submit; the services finish, record and dead-letter them unrefused."""
    run, task = f"r-{uuid.uuid4().hex[:10]}", f"t-{uuid.uuid4().hex[:10]}"
    submit = TaskSubmitted(task_id=task, run_id=run, payload=Sleep(duration_s=0.1), submitted_at=utcnow())
    await pipeline.js.publish(
        names.task_subject(run, task, EventType.SUBMITTED),
        encode(submit),
        headers={Header.MSG_ID: names.submit_msg_id(task)},
    )
    await pipeline.js.publish(names.run_sealed_subject(run), encode(RunSealed(run_id=run, size=1, sealed_at=utcnow())))
    await pipeline.js.publish(names.task_subject(None, "t-malformed", EventType.SUBMITTED), b"not an event")

    tasks = await pipeline.js.key_value(names.TASKS_BUCKET)

    async def task_record() -> dict[str, object] | None:
        try:
            record = json.loads((await tasks.get(task)).value or b"{}")
        except KeyNotFoundError:
            return None
        return record if record.get("state") == "succeeded" else None

    await eventually(task_record, timeout_s=30, interval_s=0.2, what=f"a succeeded record for {task}")

    async def run_finished() -> bool:
        try:
            await pipeline.js.get_last_msg(names.EVENTS_STREAM, names.run_finished_subject(run))
        except NotFoundError:
            return False
        return True

    await eventually(run_finished, timeout_s=30, interval_s=0.2, what=f"RunFinished for {run}")

    async def dead_lettered() -> int:
        return (await admin.js.stream_info(names.DLQ_STREAM)).state.messages

    await eventually(dead_lettered, timeout_s=30, interval_s=0.2, what="the malformed submit in the DLQ")

    for name, service in services.items():
        assert service.stop() == 0, f"{name} did not stop cleanly:\n{service.log()[-3000:]}"
    assert violations(secured_server) == []
    pipeline.assert_no_violations()
