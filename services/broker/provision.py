"""Create-or-update of the declared topology. Safe to run at every start, by every replica, any number of times.

An existing object whose configuration differs only in updatable fields is updated (reported as ``updated``
with the field names); a difference in a field the server cannot change raises ``TopologyConflict`` naming it.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import msgspec
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from schemas import names
from schemas.topology import ConsumerSpec, KvSpec, ObjectStoreSpec, StreamSpec, Topology


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class Change(msgspec.Struct, frozen=True):
    kind: str
    name: str
    action: Action
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.kind} {self.name}: {self.action}{detail}"


class TopologyConflict(RuntimeError):
    """An existing stream, consumer or bucket has a configuration that cannot be changed into the wanted one."""

    def __init__(self, kind: str, name: str, field: str, existing: object, wanted: object) -> None:
        super().__init__(
            f"{kind} {name!r}: field {field!r} is {existing!r} on the server but {wanted!r} is required, "
            f"and the server cannot change it in place; delete the {kind} or use another server"
        )
        self.kind, self.name, self.field = kind, name, field


_STREAM_IMMUTABLE = ("retention", "storage")
_STREAM_COMPARED = (
    "subjects",
    "retention",
    "storage",
    "num_replicas",
    "max_age",
    "max_msg_size",
    "max_msgs_per_subject",
    "duplicate_window",
    "description",
)
_CONSUMER_IMMUTABLE = ("ack_policy", "deliver_policy")
_CONSUMER_COMPARED = (
    "filter_subject",
    "filter_subjects",
    "ack_policy",
    "deliver_policy",
    "ack_wait",
    "max_deliver",
    "max_ack_pending",
    "description",
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-3)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sorted(a) == sorted(b)
    return bool(a == b)


def _diff(existing: Any, wanted: Any, fields: tuple[str, ...]) -> list[str]:
    return [f for f in fields if not _same(getattr(existing, f), getattr(wanted, f))]


def _stream_config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        retention=RetentionPolicy(spec.retention),
        storage=StorageType(spec.storage),
        num_replicas=spec.replicas,
        max_age=spec.max_age_s,
        max_msg_size=spec.max_msg_bytes,
        max_msgs_per_subject=spec.max_msgs_per_subject,
        duplicate_window=spec.duplicate_window_s,
        allow_direct=True,
    )


def _consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=spec.durable,
        description=spec.description,
        filter_subject=None if spec.filter_subjects else spec.filter_subject,
        filter_subjects=list(spec.filter_subjects) or None,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_s,
        max_deliver=spec.max_deliver,
        max_ack_pending=spec.max_ack_pending,
    )


async def _apply_stream(js: JetStreamContext, kind: str, wanted: StreamConfig) -> Change:
    assert wanted.name is not None
    try:
        info = await js.stream_info(wanted.name)
    except NotFoundError:
        await js.add_stream(wanted)
        return Change(kind, wanted.name, Action.CREATED)
    return await _update_stream(js, kind, info.config, wanted, _STREAM_COMPARED)


async def _update_stream(
    js: JetStreamContext, kind: str, existing: StreamConfig, wanted: StreamConfig, compared: tuple[str, ...]
) -> Change:
    assert wanted.name is not None
    changed = _diff(existing, wanted, compared)
    for field in changed:
        if field in _STREAM_IMMUTABLE:
            raise TopologyConflict(kind, wanted.name, field, getattr(existing, field), getattr(wanted, field))
    if not changed:
        return Change(kind, wanted.name, Action.UNCHANGED)
    merged = StreamConfig.from_response(existing.as_dict())
    for field in changed:
        setattr(merged, field, getattr(wanted, field))
    await js.update_stream(merged)
    return Change(kind, wanted.name, Action.UPDATED, tuple(changed))


async def _apply_consumer(js: JetStreamContext, spec: ConsumerSpec) -> Change:
    wanted = _consumer_config(spec)
    label = f"{spec.stream}/{spec.durable}"
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        await js.add_consumer(spec.stream, config=wanted)
        return Change("consumer", label, Action.CREATED)
    changed = _diff(info.config, wanted, _CONSUMER_COMPARED)
    for field in changed:
        if field in _CONSUMER_IMMUTABLE:
            raise TopologyConflict("consumer", label, field, getattr(info.config, field), getattr(wanted, field))
    if not changed:
        return Change("consumer", label, Action.UNCHANGED)
    await js.add_consumer(spec.stream, config=wanted)  # create-or-update of a durable
    return Change("consumer", label, Action.UPDATED, tuple(changed))


async def _apply_kv(js: JetStreamContext, spec: KvSpec) -> Change:
    try:
        info = await js.stream_info(names.kv_stream(spec.bucket))
    except NotFoundError:
        info = None
    if info is not None and spec.expendable and _diff(info.config, _kv_stream_config(spec), _STREAM_IMMUTABLE_KV):
        await js.delete_key_value(spec.bucket)  # only expendable entries are lost (presence reports come again)
        await _create_kv(js, spec)
        return Change("kv", spec.bucket, Action.UPDATED, ("storage",))
    if info is None:
        await _create_kv(js, spec)
        return Change("kv", spec.bucket, Action.CREATED)
    change = await _update_stream(
        js, "kv", info.config, _kv_stream_config(spec), ("storage", "max_age", "max_msgs_per_subject", "num_replicas")
    )
    return Change("kv", spec.bucket, change.action, change.fields)


_STREAM_IMMUTABLE_KV = ("storage",)


def _kv_stream_config(spec: KvSpec) -> StreamConfig:
    return StreamConfig(
        name=names.kv_stream(spec.bucket),
        max_age=spec.ttl_s,
        max_msgs_per_subject=spec.history,
        num_replicas=spec.replicas,
        storage=StorageType(spec.storage),
    )


async def _create_kv(js: JetStreamContext, spec: KvSpec) -> None:
    await js.create_key_value(
        KeyValueConfig(
            bucket=spec.bucket,
            description=spec.description,
            history=spec.history,
            ttl=spec.ttl_s or None,
            replicas=spec.replicas,
            storage=StorageType(spec.storage),
        )
    )


async def _apply_object_store(js: JetStreamContext, spec: ObjectStoreSpec) -> Change:
    stream = f"OBJ_{spec.bucket}"
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        await js.create_object_store(
            spec.bucket,
            config=ObjectStoreConfig(
                bucket=spec.bucket,
                description=spec.description,
                ttl=spec.ttl_s or None,
                replicas=spec.replicas,
                storage=StorageType(spec.storage),
            ),
        )
        return Change("object_store", spec.bucket, Action.CREATED)
    wanted = StreamConfig(
        name=stream, max_age=spec.ttl_s, num_replicas=spec.replicas, storage=StorageType(spec.storage)
    )
    change = await _update_stream(js, "object_store", info.config, wanted, ("storage", "max_age", "num_replicas"))
    return Change("object_store", spec.bucket, change.action, change.fields)


async def apply_topology(js: JetStreamContext, topology: Topology) -> list[Change]:
    """Create or update every stream, consumer and bucket; return what happened to each."""
    changes = [await _apply_stream(js, "stream", _stream_config(spec)) for spec in topology.streams]
    changes += [await _apply_consumer(js, spec) for spec in topology.consumers]
    changes += [await _apply_kv(js, spec) for spec in topology.key_values]
    changes += [await _apply_object_store(js, spec) for spec in topology.object_stores]
    return changes
