"""Provisioning creates, leaves alone, updates, or refuses with the field named."""

from __future__ import annotations

import asyncio

import msgspec
import nats.errors
import pytest
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from handoff.broker.embedded import EmbeddedNats
from handoff.broker.provision import Action, TopologyConflict, apply_topology
from handoff.schemas import names
from handoff.schemas.topology import TopologyParams, build_topology
from tests.support.nats import eventually


async def test_applying_twice_creates_everything_then_reports_everything_unchanged(
    js: JetStreamContext,
) -> None:
    """A second apply of the same topology changes nothing and says so for each object."""
    first = await apply_topology(js, build_topology())
    second = await apply_topology(js, build_topology())
    assert {c.action for c in first} == {Action.CREATED}
    assert {c.action for c in second} == {Action.UNCHANGED}
    assert [c.name for c in first] == [c.name for c in second]
    assert len(first) == 3 + 2 + 3 + 2


async def test_an_older_compatible_config_is_updated_in_place_naming_the_fields(js: JetStreamContext) -> None:
    """Changing updatable numbers (in-flight cap, TTL) updates the objects and lists exactly those fields."""
    await apply_topology(js, build_topology())
    changes = await apply_topology(js, build_topology(TopologyParams(max_ack_pending=4, result_ttl_s=3600)))
    updated = {c.name: c.fields for c in changes if c.action == Action.UPDATED}
    assert updated == {
        names.EVENTS_STREAM: ("max_age",),
        f"{names.EVENTS_STREAM}/{names.GENERATOR_CONSUMER}": ("max_ack_pending",),
        names.TASKS_BUCKET: ("max_age",),
        names.RUNS_BUCKET: ("max_age",),
    }
    info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
    assert info.config.max_ack_pending == 4


async def test_a_stream_with_an_unchangeable_difference_is_refused_naming_the_field(
    js: JetStreamContext,
) -> None:
    """A pre-existing events stream with another retention policy gives a conflict that names 'retention'."""
    await js.add_stream(
        StreamConfig(
            name=names.EVENTS_STREAM,
            subjects=list(names.EVENTS_SUBJECTS),
            retention=RetentionPolicy.WORK_QUEUE,
        )
    )
    with pytest.raises(TopologyConflict) as info:
        await apply_topology(js, build_topology())
    assert info.value.field == "retention"
    assert "retention" in str(info.value) and names.EVENTS_STREAM in str(info.value)


def test_max_deliver_must_leave_room_for_every_retry_delay() -> None:
    """A topology whose retries would outlast max_deliver is rejected before it reaches a server."""
    with pytest.raises(ValueError, match="max_deliver"):
        build_topology(TopologyParams(max_deliver=3, retry_backoff_s=(1.0, 2.0, 3.0)))


async def test_replica_presence_survives_a_server_restart(nats_server: EmbeddedNats, js: JetStreamContext) -> None:
    """The presence bucket is stored on file: an entry written before a nats-server restart is there after it."""
    await apply_topology(js, build_topology())
    kv = await js.key_value(names.REPLICAS_BUCKET)
    await kv.put("replica-1", b"{}")
    nats_server.kill()
    await asyncio.to_thread(nats_server.start)

    async def entry() -> bytes | None:
        try:
            return (await kv.get("replica-1")).value
        except (nats.errors.Error, TimeoutError):
            return None  # reconnecting, or the entry is gone

    assert await eventually(entry, timeout_s=20, what="the presence entry after the restart") == b"{}"


async def test_a_presence_bucket_kept_in_memory_by_an_older_topology_is_recreated_on_file(
    js: JetStreamContext,
) -> None:
    """The expendable presence bucket changes storage by re-creation instead of a topology conflict."""
    older = build_topology()
    memory = msgspec.structs.replace(
        older,
        key_values=tuple(
            msgspec.structs.replace(kv, storage="memory") if kv.bucket == names.REPLICAS_BUCKET else kv
            for kv in older.key_values
        ),
    )
    await apply_topology(js, memory)
    changes = await apply_topology(js, build_topology())
    assert {c.name: c.action for c in changes}[names.REPLICAS_BUCKET] == Action.UPDATED
    info = await js.stream_info(names.kv_stream(names.REPLICAS_BUCKET))
    assert info.config.storage == StorageType.FILE
