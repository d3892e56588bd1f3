"""Streams, consumers and buckets, declared once as data. ``handoff.broker.provision`` applies them.

One limits-retention stream holds every task lifecycle event. It is not a WorkQueue stream on purpose: the
generators' durable consumer, the collector's durable consumer and any late subscriber must all read the same
submits, and a WorkQueue stream refuses overlapping consumers. Acknowledgement state lives in the durable
consumers (persisted by the server), so a crashed replica loses nothing; messages age out after
``result_ttl_s``.

Retries are not the consumer's ``backoff`` list: that list replaces ``ack_wait`` for each delivery and would make
a heartbeating long task look dead. Generators retry transient failures with ``nak(delay=retry_backoff_s[n])``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from handoff.schemas import names

DAY_S = 86_400.0


class TopologyParams(msgspec.Struct, kw_only=True, frozen=True):
    """The tunable numbers; everything else in the topology follows from them."""

    replicas: int = 1
    ack_wait_s: float = 30.0
    max_deliver: int = 10
    retry_backoff_s: tuple[float, ...] = (5.0, 30.0, 120.0, 300.0)
    max_ack_pending: int = 16
    duplicate_window_s: float = 3_600.0
    result_ttl_s: float = 7 * DAY_S
    max_msg_bytes: int = 1024 * 1024
    dlq_max_age_s: float = 30 * DAY_S
    cancel_ttl_s: float = DAY_S
    artifact_ttl_s: float = 7 * DAY_S
    snapshot_ttl_s: float = 7 * DAY_S
    collector_ack_wait_s: float = 30.0
    collector_max_ack_pending: int = 1024
    presence_ttl_s: float = 15.0


class StreamSpec(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    subjects: tuple[str, ...]
    description: str
    retention: Literal["limits", "interest", "workqueue"] = "limits"
    storage: Literal["file", "memory"] = "file"
    replicas: int = 1
    max_age_s: float = 0.0  # 0: keep forever
    max_msg_bytes: int = -1
    max_msgs_per_subject: int = -1
    duplicate_window_s: float = 120.0


class ConsumerSpec(msgspec.Struct, kw_only=True, frozen=True):
    stream: str
    durable: str
    description: str
    filter_subject: str = ""
    filter_subjects: tuple[str, ...] = ()  # several filters; when set, ``filter_subject`` is unused
    ack_wait_s: float
    max_deliver: int
    max_ack_pending: int


class KvSpec(msgspec.Struct, kw_only=True, frozen=True):
    bucket: str
    description: str
    ttl_s: float = 0.0
    history: int = 1
    replicas: int = 1
    storage: Literal["file", "memory"] = "file"
    expendable: bool = False
    """Its entries may be lost: a change of an immutable setting (storage) re-creates the bucket, no conflict."""


class ObjectStoreSpec(msgspec.Struct, kw_only=True, frozen=True):
    bucket: str
    description: str
    ttl_s: float = 0.0
    replicas: int = 1
    storage: Literal["file", "memory"] = "file"


class Topology(msgspec.Struct, kw_only=True, frozen=True):
    streams: tuple[StreamSpec, ...]
    consumers: tuple[ConsumerSpec, ...]
    key_values: tuple[KvSpec, ...]
    object_stores: tuple[ObjectStoreSpec, ...]


def build_topology(p: TopologyParams | None = None) -> Topology:
    p = p or TopologyParams()
    if p.max_deliver <= len(p.retry_backoff_s):
        raise ValueError(
            f"max_deliver ({p.max_deliver}) must exceed the number of retry delays ({len(p.retry_backoff_s)})"
        )
    return Topology(
        streams=(
            StreamSpec(
                name=names.EVENTS_STREAM,
                subjects=names.EVENTS_SUBJECTS,
                description="task lifecycle and run events",
                replicas=p.replicas,
                max_age_s=p.result_ttl_s,
                max_msg_bytes=p.max_msg_bytes,
                duplicate_window_s=p.duplicate_window_s,
            ),
            StreamSpec(
                name=names.CONTROL_STREAM,
                subjects=names.CONTROL_SUBJECTS,
                description="cancel requests, the last one per task",
                replicas=p.replicas,
                max_age_s=p.cancel_ttl_s,
                max_msg_bytes=64 * 1024,
                max_msgs_per_subject=1,
            ),
            StreamSpec(
                name=names.DLQ_STREAM,
                subjects=names.DLQ_SUBJECTS,
                description="dead letters: the original bytes and the reason",
                replicas=p.replicas,
                max_age_s=p.dlq_max_age_s,
                # a dead letter carries the original message base64-encoded plus its envelope
                max_msg_bytes=max(p.max_msg_bytes * 2, 64 * 1024),
            ),
        ),
        consumers=(
            ConsumerSpec(
                stream=names.EVENTS_STREAM,
                durable=names.GENERATOR_CONSUMER,
                filter_subject=names.SUBMIT_FILTER,
                description="generator replicas share this one; max_ack_pending is the global cap",
                ack_wait_s=p.ack_wait_s,
                max_deliver=p.max_deliver,
                max_ack_pending=p.max_ack_pending,
            ),
            ConsumerSpec(
                stream=names.EVENTS_STREAM,
                durable=names.COLLECTOR_CONSUMER,
                filter_subjects=(names.ALL_TASK_EVENTS, names.RUN_SEALED_FILTER),
                description="collector replicas fold lifecycle events into task and run records",
                ack_wait_s=p.collector_ack_wait_s,
                max_deliver=-1,
                max_ack_pending=p.collector_max_ack_pending,
            ),
        ),
        key_values=(
            KvSpec(
                bucket=names.TASKS_BUCKET,
                description="one record per task_id, maintained by the collector",
                ttl_s=p.result_ttl_s,
                replicas=p.replicas,
            ),
            KvSpec(
                bucket=names.RUNS_BUCKET,
                description="one record per run_id, maintained by the collector",
                ttl_s=p.result_ttl_s,
                replicas=p.replicas,
            ),
            KvSpec(
                bucket=names.REPLICAS_BUCKET,
                description="generator replicas report slots and counters here; entries expire with the replica",
                ttl_s=p.presence_ttl_s,
                replicas=p.replicas,
                # file storage: presence survives a server restart (a memory bucket vanished with it)
                expendable=True,
            ),
        ),
        object_stores=(
            ObjectStoreSpec(
                bucket=names.SNAPSHOTS_BUCKET,
                description="content-addressed source snapshots uploaded by submitters",
                ttl_s=p.snapshot_ttl_s,
                replicas=p.replicas,
            ),
            ObjectStoreSpec(
                bucket=names.ARTIFACTS_BUCKET,
                description="patches and generated files produced by tasks",
                ttl_s=p.artifact_ttl_s,
                replicas=p.replicas,
            ),
        ),
    )
