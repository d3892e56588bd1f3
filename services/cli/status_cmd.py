"""``handoff status``: the system at a glance (queue, in flight, replicas, dead letters, oldest waiting task),
or one task's record with ``handoff status TASK_ID``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import BucketNotFoundError, NoKeysError, NotFoundError

from handoff.cli.common import open_client, print_json, task_id_arg
from handoff.cli.escape import printable
from handoff.cli.exit_codes import Exit
from handoff.client.retry import retry_transient
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import TaskSubmitted
from handoff.schemas.records import ReplicaPresence, TaskRecord, presence_decoder

_submitted: Decoder[TaskSubmitted] = Decoder(TaskSubmitted)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="queue depth, in flight, replicas, dead letters; or one task's record")
    p.add_argument("task_id", nargs="?", type=task_id_arg, help="one task's record instead of the overview")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A part of the overview these credentials (or this server) did not answer for."""

    what: str
    reason: str


async def _read[T](what: str, op: Awaitable[T], timeout_s: float) -> T | Unreadable:
    """``op``'s answer, or why there is none: a role without the permission gets no reply at all (the server
    drops the request), so a missing answer within ``timeout_s`` is reported, not raised."""
    try:
        async with asyncio.timeout(timeout_s):
            return await op
    except TimeoutError:  # nats' TimeoutError is one too
        return Unreadable(what, f"no answer within {timeout_s:g} s (these credentials may not read it)")
    except (NotFoundError, BucketNotFoundError):
        return Unreadable(what, "does not exist (run 'handoff topology apply')")


async def overview(js: JetStreamContext, *, timeout_s: float = 5.0) -> dict[str, Any]:
    """Every part the credentials may read; the others are listed under ``unreadable`` with the reason."""
    gen, col, dlq, present = await asyncio.gather(
        _read(f"consumer {names.GENERATOR_CONSUMER}", js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER),
              timeout_s),
        _read(f"consumer {names.COLLECTOR_CONSUMER}", js.consumer_info(names.EVENTS_STREAM, names.COLLECTOR_CONSUMER),
              timeout_s),
        _read(f"stream {names.DLQ_STREAM}", js.stream_info(names.DLQ_STREAM), timeout_s),
        _read(f"bucket {names.REPLICAS_BUCKET}", replicas(js), timeout_s),
    )  # fmt: skip
    unreadable = {u.what: u.reason for u in (gen, col, dlq, present) if isinstance(u, Unreadable)}
    view: dict[str, Any] = {
        "queued": None,
        "in_flight": None,
        "in_flight_cap": None,
        "redelivered_now": None,
        "waiting_pulls": None,
        "collector_lag": None if isinstance(col, Unreadable) else col.num_pending or 0,
        "dead_letters": None if isinstance(dlq, Unreadable) else dlq.state.messages,
        "oldest_waiting": None,
        "replicas": [] if isinstance(present, Unreadable) else [_replica_view(r) for r in present],
        "unreadable": unreadable,
    }
    if not isinstance(gen, Unreadable):
        view |= {
            "queued": gen.num_pending or 0,
            "in_flight": gen.num_ack_pending or 0,
            "in_flight_cap": gen.config.max_ack_pending,
            "redelivered_now": gen.num_redelivered or 0,
            "waiting_pulls": gen.num_waiting or 0,
        }
        if gen.num_pending:
            oldest = await _read("the oldest waiting submit", _oldest_waiting(js, gen), timeout_s)
            if isinstance(oldest, Unreadable):
                unreadable[oldest.what] = oldest.reason
            else:
                view["oldest_waiting"] = oldest
    return view


async def _oldest_waiting(js: JetStreamContext, gen: ConsumerInfo) -> dict[str, Any] | None:
    delivered = gen.delivered.stream_seq if gen.delivered else 0
    try:
        raw = await js.get_msg(names.EVENTS_STREAM, seq=delivered + 1, next=True, subject=names.SUBMIT_FILTER)
        event = _submitted.decode(raw.data or b"")
    except (NotFoundError, DecodeError):
        return None
    return {
        "task_id": event.task_id,
        "submitted_at": event.submitted_at.isoformat(),
        "waiting_s": round((utcnow() - event.submitted_at).total_seconds(), 1),
    }


STALE_AFTER_S = 15.0
"""A replica whose last presence report is older than this (three default report intervals) may be gone."""


def _replica_view(presence: ReplicaPresence) -> dict[str, Any]:
    view: dict[str, Any] = msgspec.to_builtins(presence)
    age_s = max(0.0, (utcnow() - presence.reported_at).total_seconds())
    view["reported_s_ago"] = round(age_s, 1)
    view["stale"] = age_s > STALE_AFTER_S
    return view


async def replicas(js: JetStreamContext) -> list[ReplicaPresence]:
    try:
        kv = await js.key_value(names.REPLICAS_BUCKET)
        keys = await kv.keys()
    except (BucketNotFoundError, NotFoundError, NoKeysError):
        return []
    found = []
    for key in keys:
        try:
            entry = await kv.get(key)
        except (NotFoundError, BucketNotFoundError):
            continue
        if entry.value:
            found.append(presence_decoder.decode(entry.value))
    return sorted(found, key=lambda r: r.replica_id)


def _shown(value: object) -> str:
    return "?" if value is None else str(value)


def human(view: dict[str, Any]) -> str:
    lines = [
        f"queued {_shown(view['queued'])} · in flight {_shown(view['in_flight'])}/{_shown(view['in_flight_cap'])} · "
        f"dead letters {_shown(view['dead_letters'])} · collector lag {_shown(view['collector_lag'])}",
    ]
    oldest = view["oldest_waiting"]
    if oldest:
        lines.append(f"oldest waiting: {oldest['task_id']} for {oldest['waiting_s']} s")
    elif view["queued"]:
        lines.append(f"{view['queued']} waiting (the oldest could not be read)")
    elif view["redelivered_now"]:
        lines.append(f"{view['redelivered_now']} waiting for a retry or a redelivery")
    else:
        lines.append("nothing waiting")
    unreadable: dict[str, str] = view.get("unreadable", {})
    if not view["replicas"] and not any(what.startswith("bucket ") for what in unreadable):
        lines.append("no generator replica has reported in")
    for r in view["replicas"]:
        if r.get("stale"):
            lines.append(
                f"  {r['replica_id']:<24} last reported {r['reported_s_ago']:.0f} s ago: gone or unreachable "
                f"(its entry expires by itself)"
            )
            continue
        lines.append(
            f"  {printable(r['replica_id']):<24} slots {r['slots_in_use']}/{r['slots']} · started {r['started']} · "
            f"finished {r['finished']} · {'ready' if r['ready'] else 'NOT READY'}"
        )
    for what, reason in unreadable.items():
        lines.append(f"not shown: {what}: {reason}")
    return "\n".join(lines)


def record_lines(record: TaskRecord) -> str:
    lines = [f"task {record.task_id}: {record.state} (kind {record.kind or '?'}, run {record.run_id or '-'})"]
    if record.attempt:
        lines.append(f"  attempt {record.attempt} on {record.replica_id}")
    if record.last_progress:
        p = record.last_progress
        lines.append(f"  last progress [{printable(p.stage)}] {printable(p.message)} at {p.at.isoformat()}")
    if record.finished and record.finished.error:
        lines.append(f"  error {record.finished.error.code}: {printable(record.finished.error.message)}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    async with open_client() as client:
        if args.task_id:
            record = await client.status(args.task_id)
            print_json(record) if args.json else print(record_lines(record))
            return Exit.OK
        js = client.js
        view = await retry_transient(
            lambda: overview(js, timeout_s=client.settings.nats.publish_timeout_s),
            what="read the queue and replicas",
            give_up_after_s=client.settings.submit_timeout_s,
        )
    print_json(view) if args.json else print(human(view))
    return Exit.OK
