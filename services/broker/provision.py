"""Create-or-update of the declared topology. Safe to run at every start, by every replica, any number of times.

An existing object whose configuration differs only in updatable fields is updated (reported as ``updated``
with the field names and, for each, what the server had and what it now has); a difference in a field the
server cannot change raises ``TopologyConflict`` naming it.

A durable consumer is compared on EVERY field of its configuration, not only the ones Handoff tunes: a field
Handoff leaves unset (``inactive_threshold``, ``backoff``, ``headers_only``, ``sample_freq``, a deliver subject,
user metadata ...) must be unset on the server too, since any of them changes how the consumer behaves (an
``inactive_threshold`` gets a durable deleted while nobody pulls). ``consumer_drift`` is the one comparison; the
generators use it at start to refuse a consumer whose structure was changed behind the topology's back.
"""

from __future__ import annotations

import dataclasses
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
    ReplayPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from handoff.schemas import names
from handoff.schemas.topology import ConsumerSpec, KvSpec, ObjectStoreSpec, StreamSpec, Topology


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class Change(msgspec.Struct, frozen=True):
    kind: str
    name: str
    action: Action
    fields: tuple[str, ...] = ()
    drift: tuple[str, ...] = ()  # for each updated field: "field: <on the server> -> <wanted>"

    def __str__(self) -> str:
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        repaired = f"; drift repaired: {'; '.join(self.drift)}" if self.drift else ""
        return f"{self.kind} {self.name}: {self.action}{detail}{repaired}"


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
_CONSUMER_IMMUTABLE = (
    "ack_policy",
    "deliver_policy",
    "opt_start_seq",
    "opt_start_time",
    "replay_policy",
    "deliver_subject",
    "deliver_group",
    "mem_storage",
)
# Every field of a consumer's configuration but its identity: compared in full (see the module docstring).
_CONSUMER_IDENTITY = ("name", "durable_name")
_CONSUMER_COMPARED = tuple(f.name for f in dataclasses.fields(ConsumerConfig) if f.name not in _CONSUMER_IDENTITY)
# Numbers a deployment tunes through its settings (HANDOFF_MAX_IN_FLIGHT, ...): a replica started with other
# settings than the topology step must not call them drift. Everything else is the consumer's structure.
CONSUMER_TUNABLE = ("ack_wait", "max_deliver", "max_ack_pending", "description")
PULL_MAX_WAITING = 512  # the server's default for a pull consumer's waiting pull requests, set explicitly
_SERVER_METADATA_PREFIX = "_nats."  # metadata the server adds by itself (its version, API level)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-3)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sorted(a) == sorted(b)
    return bool(a == b)


def _diff(existing: Any, wanted: Any, fields: tuple[str, ...]) -> list[str]:
    return [f for f in fields if not _same(getattr(existing, f), getattr(wanted, f))]


def _consumer_value(config: ConsumerConfig, field: str) -> Any:
    """A field as compared: unset, zero, false and empty are all "unset"; server-added metadata is left out."""
    value = getattr(config, field)
    if field == "metadata" and value:
        value = {k: v for k, v in value.items() if not k.startswith(_SERVER_METADATA_PREFIX)}
    if value in (None, 0, False, "", [], {}):
        return None
    return value


def consumer_drift(
    existing: ConsumerConfig, wanted: ConsumerConfig, *, ignore: tuple[str, ...] = ()
) -> dict[str, tuple[Any, Any]]:
    """Every field in which ``existing`` differs from ``wanted``: ``{field: (on the server, wanted)}``."""
    drift: dict[str, tuple[Any, Any]] = {}
    for field in _CONSUMER_COMPARED:
        if field in ignore:
            continue
        have, want = _consumer_value(existing, field), _consumer_value(wanted, field)
        if not (have is None and want is None) and (have is None or want is None or not _same(have, want)):
            drift[field] = (have, want)
    return drift


def consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    """The full configuration a durable consumer of the topology must have."""
    return _consumer_config(spec)


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
        replay_policy=ReplayPolicy.INSTANT,
        ack_wait=spec.ack_wait_s,
        max_deliver=spec.max_deliver,
        max_ack_pending=spec.max_ack_pending,
        max_waiting=PULL_MAX_WAITING,
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
    drift = consumer_drift(info.config, wanted)
    for field, (have, want) in drift.items():
        if field in _CONSUMER_IMMUTABLE:
            raise TopologyConflict("consumer", label, field, have, want)
    if not drift:
        return Change("consumer", label, Action.UNCHANGED)
    await js.add_consumer(spec.stream, config=wanted)  # create-or-update of a durable: the whole config
    after = consumer_drift((await js.consumer_info(spec.stream, spec.durable)).config, wanted)
    if after:
        field, (have, want) = next(iter(after.items()))
        raise TopologyConflict("consumer", label, field, have, want)
    details = tuple(f"{field}: {_shown(have)} -> {_shown(want)}" for field, (have, want) in drift.items())
    return Change("consumer", label, Action.UPDATED, tuple(drift), details)


def _shown(value: Any) -> str:
    return "unset" if value is None else repr(value)


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
