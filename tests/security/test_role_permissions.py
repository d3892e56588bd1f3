"""Role permissions beyond what tests/deploy/test_nats_permissions.py covers (each role's own work and forgeries):
no service role can destroy or reconfigure what the others depend on, or read the dead letters of other pipelines.

The fixtures are the deployment tests' (``deploy/nats/accounts.conf`` on a real nats-server, one connection per role).
"""

from __future__ import annotations

import pytest
from nats.js.api import StreamConfig

from handoff.schemas import names
from handoff.schemas.names import EventType
from handoff.schemas.topology import Topology
from tests.deploy.conftest import admin, applied, collector, generator, pipeline, secured_server
from tests.deploy.roles import RoleClient
from tests.support.nats import eventually

__all__ = ["admin", "applied", "collector", "generator", "pipeline", "secured_server"]

EVENTS = names.EVENTS_STREAM
TASKS_KV = names.kv_stream(names.TASKS_BUCKET)
PROTECTED_STREAMS = (EVENTS, names.CONTROL_STREAM, names.DLQ_STREAM, TASKS_KV, names.kv_stream(names.RUNS_BUCKET))
ROLES = ("pipeline", "generator", "collector")


@pytest.fixture
def roles(pipeline: RoleClient, generator: RoleClient, collector: RoleClient) -> dict[str, RoleClient]:
    return {"pipeline": pipeline, "generator": generator, "collector": collector}


@pytest.mark.parametrize("role", ROLES)
async def test_no_service_role_can_delete_purge_or_reconfigure_the_streams_and_buckets(
    role: str, roles: dict[str, RoleClient], admin: RoleClient, applied: Topology
) -> None:
    """Delete, purge and update of every stream and bucket, and a new stream, are refused; the data survives."""
    client = roles[role]
    task = f"perm-{role}"
    await admin.js.publish(names.task_subject(None, task, EventType.SUBMITTED), b"{}")
    await admin.js.publish(names.dlq_subject("generator"), b"dead")
    before = {stream: (await admin.js.stream_info(stream)).state.messages for stream in PROTECTED_STREAMS}
    for stream in PROTECTED_STREAMS:
        await client.expect_refused(
            client.js.delete_stream(stream), action="publish", subject=f"$JS.API.STREAM.DELETE.{stream}"
        )
        await client.expect_refused(
            client.js.purge_stream(stream), action="publish", subject=f"$JS.API.STREAM.PURGE.{stream}"
        )
        short_lived = StreamConfig(name=stream, subjects=[f"{stream.lower()}.>"], max_age=1.0)
        await client.expect_refused(
            client.js.update_stream(short_lived), action="publish", subject=f"$JS.API.STREAM.UPDATE.{stream}"
        )
    await client.expect_refused(
        client.js.add_stream(StreamConfig(name="SHADOW", subjects=["handoff.shadow.>"])),
        action="publish",
        subject="$JS.API.STREAM.CREATE.SHADOW",
    )
    after = {stream: (await admin.js.stream_info(stream)).state.messages for stream in PROTECTED_STREAMS}
    assert after == before and after[EVENTS] >= 1 and after[names.DLQ_STREAM] >= 1
    events = await admin.js.stream_info(EVENTS)
    wanted = next(s for s in applied.streams if s.name == EVENTS)
    assert events.config.max_age == pytest.approx(wanted.max_age_s)


@pytest.mark.parametrize("role", ROLES)
async def test_no_service_role_can_delete_the_durable_consumers(
    role: str, roles: dict[str, RoleClient], admin: RoleClient, applied: Topology
) -> None:
    """Deleting the generators' or the collector's durable is refused for every service role."""
    client = roles[role]
    for durable in (names.GENERATOR_CONSUMER, names.COLLECTOR_CONSUMER):
        await client.expect_refused(
            client.js.delete_consumer(EVENTS, durable),
            action="publish",
            subject=f"$JS.API.CONSUMER.DELETE.{EVENTS}.{durable}",
        )
        assert (await admin.js.consumer_info(EVENTS, durable)).name == durable


@pytest.mark.parametrize("role", ROLES)
async def test_no_service_role_can_read_the_dead_letters(
    role: str, roles: dict[str, RoleClient], admin: RoleClient, applied: Topology
) -> None:
    """Dead letters hold other pipelines' raw submits: only admin (``handoff dlq``) reads them back."""
    client = roles[role]
    seq = (await admin.js.publish(names.dlq_subject("generator"), b"someone else's submit")).seq
    await client.expect_refused(
        client.js.get_msg(names.DLQ_STREAM, seq), action="publish", subject=f"$JS.API.STREAM.MSG.GET.{names.DLQ_STREAM}"
    )
    await client.expect_refused(
        client.js.get_msg(names.DLQ_STREAM, seq, direct=True),
        action="publish",
        subject=f"$JS.API.DIRECT.GET.{names.DLQ_STREAM}",
    )
    await client.expect_refused(
        client.nc.subscribe(names.dlq_subject("*")), action="subscription", subject=names.dlq_subject("*")
    )
    assert (await admin.js.get_msg(names.DLQ_STREAM, seq)).data == b"someone else's submit"


async def test_a_role_cannot_read_the_replies_and_deliveries_addressed_to_another_role(
    pipeline: RoleClient, generator: RoleClient, admin: RoleClient, applied: Topology
) -> None:
    """Each role has its own inbox prefix: a pipeline spying on the shared, the generator's and the admin's inboxes
    is refused each time and sees neither the submits pulled by generators nor admin's dead-letter reads."""
    spies = {}
    for prefix in ("_INBOX.>", "_INBOX_generator.>", "_INBOX_collector.>", "_INBOX_admin.>"):
        spies[prefix] = await pipeline.nc.subscribe(prefix)
    seq = (await admin.js.publish(names.dlq_subject("generator"), b"someone else's submit")).seq
    assert (await admin.js.get_msg(names.DLQ_STREAM, seq)).data == b"someone else's submit"
    await admin.js.publish(names.task_subject(None, "pulled", EventType.SUBMITTED), b"another pipeline's submit")
    pull = await generator.js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=EVENTS)
    (delivered,) = await pull.fetch(1, timeout=5)
    assert delivered.data == b"another pipeline's submit"
    assert delivered.reply and delivered.reply.startswith("$JS.ACK.")
    await pipeline.nc.flush()  # whatever the server routed to the spies before this round trip has arrived
    overheard = [(await spy.next_msg(timeout=1)).subject for spy in spies.values() for _ in range(spy.pending_msgs)]
    assert overheard == []
    for prefix in spies:
        await eventually(
            lambda p=prefix: _refused(pipeline, p), what=f"the server refusing the pipeline's subscription to {prefix}"
        )


async def _refused(client: RoleClient, subject: str) -> bool:
    return client.violated("subscription", subject)
