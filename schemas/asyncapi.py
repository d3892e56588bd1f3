"""The AsyncAPI 3.0 document of Handoff's wire contract, generated from ``names`` and the event types.

Every channel is a subject built by ``names`` with ``{parameters}`` for its variable tokens; every message
is an event type with its JSON Schema (the same msgspec types the services decode with) and the headers that
travel with it; every operation says which role sends or receives it, and how (``x-handoff-via``: a core
subscription or a JetStream consumer / direct get on a stream). ``handoff schemas export`` writes
``schemas/asyncapi.json``; ``handoff schemas check`` and the tests fail when the committed file is stale, and a test
checks every operation against the deploy/ permissions of its role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from handoff.schemas import names
from handoff.schemas.events import (
    ALL_EVENT_TYPES,
    SCHEMA_VERSION,
    CancelRequested,
    DeadLettered,
    Event,
    RunFinished,
    RunSealed,
    TaskFinished,
    TaskProgress,
    TaskStarted,
    TaskSubmitted,
)
from handoff.schemas.names import EventType, Header

ASYNCAPI_VERSION = "3.0.0"
ROLES = ("pipeline", "generator", "collector", "admin")

HEADER_DOCS: dict[Header, str] = {
    Header.MSG_ID: "JetStream de-duplication id (schemas.names.*_msg_id): a retried publish is stored once",
    Header.SCHEMA: "the event's type tag and schema version",
    Header.DEAD_LETTER_REASON: "why the message was dead-lettered",
    Header.REPLAY_OF: "on a submit republished from the dead-letter stream: its DLQ sequence",
    Header.TRACEPARENT: "W3C trace context of the pipeline span that submitted the task",
    Header.TRACESTATE: "W3C trace state that goes with traceparent",
}


@dataclass(frozen=True, slots=True)
class Channel:
    key: str
    address: str
    event: type[Event]
    description: str
    headers: tuple[Header, ...] = (Header.MSG_ID,)


@dataclass(frozen=True, slots=True)
class Operation:
    role: str
    action: str  # "send" | "receive"
    channel: str
    via: str  # "core" or "jetstream:<stream>"
    summary: str


# the builders check ids, so addresses are built from sample ids that then become the channel parameters
RUN, TASK, ORIGIN = "R0run0sample", "T0task0sample", "O0origin0sample"
PARAMETERS = {RUN: "{run_id}", TASK: "{task_id}", ORIGIN: "{origin}"}


def _address(subject: str) -> str:
    for sample, parameter in PARAMETERS.items():
        subject = subject.replace(sample, parameter)
    return subject


TRACE = (Header.MSG_ID, Header.TRACEPARENT, Header.TRACESTATE)

CHANNELS: tuple[Channel, ...] = (
    Channel("taskSubmitted", _address(names.task_subject(RUN, TASK, EventType.SUBMITTED)), TaskSubmitted,
            "A task to run; consumed by exactly one generator replica through the durable 'generators'.",
            (*TRACE, Header.REPLAY_OF)),
    Channel("taskStarted", _address(names.task_subject(RUN, TASK, EventType.STARTED)), TaskStarted,
            "A generator replica started an attempt of the task.", TRACE),
    Channel("taskProgress", _address(names.task_subject(RUN, TASK, EventType.PROGRESS)), TaskProgress,
            "What the running attempt is doing (redacted, bounded).", TRACE),
    Channel("taskFinished", _address(names.task_subject(RUN, TASK, EventType.FINISHED)), TaskFinished,
            "The task's one outcome (stored once per task through its message id).", TRACE),
    Channel("runSealed", _address(names.run_sealed_subject(RUN)), RunSealed, "Declares how many tasks a run has."),
    Channel("runFinished", _address(names.run_finished_subject(RUN)), RunFinished,
            "Every task of a sealed run has finished; published once by the collector."),
    Channel("cancelRequested", _address(names.cancel_subject(TASK)), CancelRequested,
            "Stop the task: a running attempt is interrupted, a queued one never starts."),
    Channel("deadLettered", _address(names.dlq_subject(ORIGIN)), DeadLettered,
            "A message Handoff could not process: its original bytes and the reason.",
            (Header.MSG_ID, Header.DEAD_LETTER_REASON)),
)  # fmt: skip

EVENTS, CONTROL, DLQ = (f"jetstream:{s}" for s in (names.EVENTS_STREAM, names.CONTROL_STREAM, names.DLQ_STREAM))

OPERATIONS: tuple[Operation, ...] = (
    Operation("pipeline", "send", "taskSubmitted", "core", "submit a task (HandoffClient.submit, handoff submit)"),
    Operation("pipeline", "send", "runSealed", "core", "seal a run with its size"),
    Operation("pipeline", "send", "cancelRequested", "core", "cancel a task (handoff cancel)"),
    Operation("pipeline", "receive", "taskStarted", EVENTS, "watch a run or task (handoff watch, wait)"),
    Operation("pipeline", "receive", "taskProgress", EVENTS, "watch progress (handoff watch, wait)"),
    Operation("pipeline", "receive", "taskFinished", EVENTS, "await results (result, gather, as_completed)"),
    Operation("pipeline", "receive", "runFinished", EVENTS, "await a whole run (handoff wait --run-id)"),
    Operation("generator", "receive", "taskSubmitted", EVENTS, "take submits through the durable 'generators'"),
    Operation("generator", "receive", "cancelRequested", "core", "stop a running task"),
    Operation("generator", "send", "taskStarted", "core", "an attempt started"),
    Operation("generator", "send", "taskProgress", "core", "an attempt's progress"),
    Operation("generator", "send", "taskFinished", "core", "the task's outcome"),
    Operation("generator", "send", "deadLettered", "core", "an undecodable or undeliverable submit"),
    Operation("collector", "receive", "taskSubmitted", EVENTS, "fold submits into task records"),
    Operation("collector", "receive", "taskStarted", EVENTS, "fold starts into task records"),
    Operation("collector", "receive", "taskProgress", EVENTS, "fold progress into task records"),
    Operation("collector", "receive", "taskFinished", EVENTS, "fold outcomes into task and run records"),
    Operation("collector", "receive", "runSealed", EVENTS, "learn a run's size"),
    Operation("collector", "send", "runFinished", "core", "announce a finished run"),
    Operation("collector", "send", "deadLettered", "core", "an event it cannot fold"),
    Operation("admin", "receive", "deadLettered", DLQ, "inspect dead letters (handoff dlq list/show)"),
    Operation("admin", "send", "taskSubmitted", "core", "replay a dead-lettered submit (handoff dlq replay)"),
)


def _channel_parameters(address: str) -> dict[str, Any]:
    docs = {
        "run_id": f"the run id, or '{names.NO_RUN}' for a task submitted without one",
        "task_id": "the task id",
        "origin": "which service dead-lettered it and why (a subject token)",
    }
    found = [token[1:-1] for token in address.split(".") if token.startswith("{")]
    return {name: {"description": docs[name]} for name in found}


def _headers(headers: tuple[Header, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {str(h): {"type": "string", "description": HEADER_DOCS[h]} for h in headers},
    }


def _asyncapi_schema(node: Any) -> Any:
    """msgspec writes OpenAPI's ``discriminator`` object; the AsyncAPI Schema wants the property's name alone."""
    if isinstance(node, dict):
        out = {key: _asyncapi_schema(value) for key, value in node.items()}
        if isinstance(out.get("discriminator"), dict):
            out["discriminator"] = out["discriminator"]["propertyName"]
        return out
    if isinstance(node, list):
        return [_asyncapi_schema(item) for item in node]
    return node


def document() -> dict[str, Any]:
    """The whole AsyncAPI document as plain data."""
    _, raw = msgspec.json.schema_components(ALL_EVENT_TYPES, ref_template="#/components/schemas/{name}")
    components = _asyncapi_schema(raw)
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel in CHANNELS:
        name = channel.event.__name__
        tag = channel.event.__struct_config__.tag
        messages[name] = {
            "name": name,
            "title": f"{name} ({tag})",
            "contentType": "application/json",
            "headers": _headers(channel.headers),
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        channels[channel.key] = {
            "address": channel.address,
            "description": channel.description,
            "parameters": _channel_parameters(channel.address),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
    operations: dict[str, Any] = {}
    for op in OPERATIONS:
        channel = next(c for c in CHANNELS if c.key == op.channel)
        key = f"{op.role}{op.action.capitalize()}{op.channel[0].upper()}{op.channel[1:]}"
        operations[key] = {
            "action": op.action,
            "channel": {"$ref": f"#/channels/{op.channel}"},
            "messages": [{"$ref": f"#/channels/{op.channel}/messages/{channel.event.__name__}"}],
            "summary": op.summary,
            "tags": [{"name": f"role:{op.role}"}],
            "x-handoff-role": op.role,
            "x-handoff-via": op.via,
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Handoff",
            "version": f"schema-{SCHEMA_VERSION}",
            "description": (
                "Events of Handoff: pipelines submit tasks, generator replicas run them, a collector joins the "
                "results by task id. All subjects below live in the JetStream streams "
                f"{names.EVENTS_STREAM} (task and run events), {names.CONTROL_STREAM} (cancels) and "
                f"{names.DLQ_STREAM} (dead letters)."
            ),
            "tags": [{"name": f"role:{role}", "description": f"the {role} role of deploy/nats"} for role in ROLES],
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {"host": "localhost:4222", "protocol": "nats", "description": "a nats-server with JetStream"}
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": components,
        },
    }


def render() -> bytes:
    """The exact bytes of ``schemas/asyncapi.json``."""
    return msgspec.json.format(msgspec.json.encode(document()), indent=2) + b"\n"
