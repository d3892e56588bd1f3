"""Tenants are accounts: ``deploy/nats/accounts.conf`` with a second tenant added from its documented template.

Pipelines of different tenants connect to the same server and use the same subjects, stream and bucket names,
run and task ids; the server keeps them apart, so one cannot see, submit into or squat on the other's runs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path

import pytest
from nats.js.errors import KeyNotFoundError, NotFoundError

from handoff.broker.provision import apply_topology
from handoff.client.client import HandoffClient
from handoff.client.runs import watch_events
from handoff.client.settings import ClientSettings
from handoff.schemas import names
from handoff.schemas.events import Sleep, TaskSubmitted
from handoff.schemas.topology import build_topology
from tests.deploy.roles import RoleClient
from tests.deploy.servers import NATS_DIR, NatsProcess, single_server
from tests.support.nats import FAST_TOPOLOGY

TENANT = "acme"
PASSWORDS = {role: f"{role}-{TENANT}-secret" for role in ("pipeline", "generator", "collector", "admin")}


def tenant_block(tenant: str) -> str:
    """The tenant template documented in accounts.conf, filled in for ``tenant``."""
    text = (NATS_DIR / "accounts.conf").read_text()
    match = re.search(r"# BEGIN TENANT TEMPLATE\n(.*?)# END TENANT TEMPLATE", text, re.S)
    assert match, "accounts.conf no longer documents the tenant template"
    lines = [line.removeprefix("#") for line in match.group(1).splitlines()]
    return "\n".join(lines).replace("<T>", tenant.upper()).replace("<t>", tenant)


@pytest.fixture
def two_tenants(tmp_path: Path) -> Iterator[NatsProcess]:
    """The compose server with tenant ``acme`` added next to HANDOFF, as deploy/README.md says."""
    server = single_server(tmp_path)
    accounts = server.config.parent / "accounts.conf"
    text = accounts.read_text()
    anchor = "accounts {\n"
    assert text.count(anchor) == 1
    accounts.write_text(text.replace(anchor, anchor + tenant_block(TENANT) + "\n"))
    server.env.update({f"NATS_{role.upper()}_{TENANT.upper()}_PASSWORD": pw for role, pw in PASSWORDS.items()})
    server.start()
    yield server
    server.stop()


async def _tenant_role(server: NatsProcess, role: str) -> RoleClient:
    return await RoleClient.connect(server.url, f"{role}-{TENANT}", password=PASSWORDS[role], inbox_role=role)


@pytest.fixture
async def clients(two_tenants: NatsProcess) -> AsyncIterator[dict[str, RoleClient]]:
    made = {
        "admin": await RoleClient.connect(two_tenants.url, "admin"),
        "pipeline": await RoleClient.connect(two_tenants.url, "pipeline"),
        "acme-admin": await _tenant_role(two_tenants, "admin"),
        "acme-pipeline": await _tenant_role(two_tenants, "pipeline"),
    }
    topology = build_topology(FAST_TOPOLOGY)
    await apply_topology(made["admin"].js, topology)
    await apply_topology(made["acme-admin"].js, topology)  # each tenant applies its own topology
    yield made
    for client in made.values():
        await client.close()


async def test_a_tenant_cannot_see_or_submit_into_another_tenants_runs(clients: dict[str, RoleClient]) -> None:
    """Acme's pipeline finds none of HANDOFF's submits or records; its submit to the same subject, with the same
    message id, lands in its own stream and neither hides nor squats on HANDOFF's task."""
    victim = HandoffClient(clients["pipeline"].nc, settings=ClientSettings.from_env({}))
    intruder = HandoffClient(clients["acme-pipeline"].nc, settings=ClientSettings.from_env({}))
    run = f"build-{uuid.uuid4().hex[:8]}"
    squatted = f"{run}-0001"
    # acme squats first on an id HANDOFF will use, with the client's own message id
    assert await intruder.submit(Sleep(duration_s=0), task_id=squatted, run_id=run) == squatted
    task_id = await victim.submit(Sleep(duration_s=0), task_id=f"{run}-0000", run_id=run)
    assert await victim.submit(Sleep(duration_s=1), task_id=squatted, run_id=run) == squatted  # not a duplicate

    acme = clients["acme-pipeline"]
    subject = names.task_subject(run, task_id, names.EventType.SUBMITTED)
    with pytest.raises(NotFoundError):
        await acme.js.get_last_msg(names.EVENTS_STREAM, subject)
    events = [e async for e in _stored(intruder, run)]
    assert [e.task_id for e in events] == [squatted]  # only its own submit
    handoff_events = [e async for e in _stored(victim, run)]
    assert sorted(e.task_id for e in handoff_events) == sorted([task_id, squatted])
    assert all(e.payload == Sleep(duration_s=0) or e.task_id == squatted for e in handoff_events)
    stored = await clients["admin"].js.get_last_msg(
        names.EVENTS_STREAM, names.task_subject(run, squatted, names.EventType.SUBMITTED)
    )
    assert b'"duration_s":1' in (stored.data or b"")  # HANDOFF's own submit, not acme's

    await clients["admin"].js.publish(names.kv_key_subject(names.TASKS_BUCKET, task_id), b"handoff-record")
    with pytest.raises(KeyNotFoundError):
        await (await acme.js.key_value(names.TASKS_BUCKET)).get(task_id)
    acme.assert_no_violations()
    clients["pipeline"].assert_no_violations()


async def _stored(client: HandoffClient, run: str) -> AsyncIterator[TaskSubmitted]:
    """The submits stored under ``run`` in this client's account, read with an ordered consumer."""
    info = await client.js.stream_info(names.EVENTS_STREAM, subjects_filter=names.run_events_filter(run))
    expected = sum((info.state.subjects or {}).values())
    if expected == 0:
        return
    seen = 0
    async with aclosing(watch_events(client, [names.run_events_filter(run)], from_start=True)) as events:
        async for event in events:
            seen += 1
            if isinstance(event, TaskSubmitted):
                yield event
            if seen >= expected:
                return
