"""One pipeline cannot take over another's task: squatting on its message id, or racing its task id under another
run. Against ``deploy/nats/nats.conf`` with the real generator and collector on their own credentials; both
pipelines use the ``pipeline`` user (same tenant: tenants are separated by accounts, see tests/deploy/test_tenancy).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.client.client import HandoffClient
from handoff.client.errors import TaskIdTaken
from handoff.client.settings import ClientSettings
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import Decoder, encode
from handoff.schemas.events import DeadLettered, DeadLetterReason, ErrorCode, Sleep, TaskStatus, TaskSubmitted
from tests.deploy.conftest import admin, applied, collector, generator, pipeline, secured_server
from tests.deploy.roles import RoleClient
from tests.deploy.servers import NatsProcess
from tests.deploy.test_services_with_role_credentials import Service
from tests.support.nats import eventually

__all__ = ["admin", "applied", "collector", "generator", "pipeline", "secured_server"]

_dead: Decoder[DeadLettered] = Decoder(DeadLettered)


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


async def _client(server: NatsProcess) -> HandoffClient:
    attacker = await RoleClient.connect(server.url, "pipeline")
    return HandoffClient(
        attacker.nc,
        settings=ClientSettings.from_env({"HANDOFF_WATCH_HEARTBEAT_S": "0.5", "HANDOFF_CLIENT_NAME": "attacker"}),
        owns_connection=True,
    )


async def test_squatting_on_a_task_id_with_its_message_id_is_refused_not_silently_deduplicated(
    secured_server: NatsProcess, pipeline: RoleClient
) -> None:
    """The attacker pre-submits <run>-0000 (same message id) under its own run, or a different task under the
    victim's run: the victim's submit raises TaskIdTaken instead of waiting for the attacker's result."""
    victim = HandoffClient(pipeline.nc, settings=ClientSettings.from_env({"HANDOFF_CLIENT_NAME": "victim"}))
    attacker = await _client(secured_server)
    run = f"build-{uuid.uuid4().hex[:8]}"
    try:
        squatted = f"{run}-0000"
        await attacker.submit(Sleep(duration_s=0), task_id=squatted, run_id=f"evil-{uuid.uuid4().hex[:6]}")
        with pytest.raises(TaskIdTaken, match=squatted):
            await victim.submit(Sleep(duration_s=1), task_id=squatted, run_id=run)

        same_run = f"{run}-0001"
        await attacker.submit(Sleep(duration_s=0, fail_with=ErrorCode.INTERNAL), task_id=same_run, run_id=run)
        with pytest.raises(TaskIdTaken, match="differs"):
            await victim.submit(Sleep(duration_s=1), task_id=same_run, run_id=run)

        own = f"{run}-0002"
        assert await victim.submit(Sleep(duration_s=1), task_id=own, run_id=run) == own
        assert await victim.submit(Sleep(duration_s=1), task_id=own, run_id=run) == own  # a retry stays idempotent
    finally:
        await attacker.close()
    pipeline.assert_no_violations()


async def test_racing_a_task_id_under_another_run_does_not_change_the_victims_result(
    secured_server: NatsProcess, services: dict[str, Service], pipeline: RoleClient, admin: RoleClient
) -> None:
    """The attacker re-submits the victim's random task id under its own run without a message id and with a
    quicker, failing task: the victim still gets its own success; the attacker's submit is dead-lettered."""
    victim = HandoffClient(
        pipeline.nc, settings=ClientSettings.from_env({"HANDOFF_WATCH_HEARTBEAT_S": "0.5", "HANDOFF_CLIENT_NAME": "v"})
    )
    attacker = await _client(secured_server)
    run, evil = f"build-{uuid.uuid4().hex[:8]}", f"evil-{uuid.uuid4().hex[:8]}"
    try:
        task_id = await victim.submit(Sleep(duration_s=1.5), run_id=run)
        forged = TaskSubmitted(
            task_id=task_id,
            payload=Sleep(duration_s=0, fail_with=ErrorCode.INTERNAL),
            submitted_at=utcnow(),
            run_id=evil,
            submitter="attacker",
        )
        await attacker.js.publish(names.task_subject(evil, task_id, names.EventType.SUBMITTED), encode(forged))

        finished = await victim.result(task_id, timeout=60)
        assert (finished.status, finished.run_id) == (TaskStatus.SUCCEEDED, run)
        record = await victim.status(task_id)
        assert record.run_id == run and record.submitter == "v"

        async def taken() -> DeadLettered | None:
            info = await admin.js.stream_info(names.DLQ_STREAM)
            for seq in range(1, (info.state.last_seq or 0) + 1):
                letter = _dead.decode((await admin.js.get_msg(names.DLQ_STREAM, seq)).data or b"")
                if letter.reason == DeadLetterReason.TASK_ID_TAKEN and letter.task_id == task_id:
                    return letter
            return None

        letter = await eventually(taken, timeout_s=30, interval_s=0.3, what="the attacker's submit dead-lettered")
        assert letter.run_id == evil and run in letter.detail
        assert await attacker.lookups.any_event(names.task_subject(evil, task_id, names.EventType.FINISHED)) is False
        with pytest.raises(TaskIdTaken, match=run):  # a chosen id that another run owns is refused at submit
            await attacker.submit(Sleep(duration_s=0), task_id=task_id, run_id=evil)
    finally:
        await attacker.close()
    for name, service in services.items():
        assert service.stop() == 0, f"{name} did not stop cleanly:\n{service.log()[-3000:]}"
