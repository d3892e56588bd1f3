"""Every subject, stream, consumer, bucket and header name Handoff uses. Nothing else spells them.

Subject layout (all lifecycle events of a task live on subjects that carry its run and task id, so a
late subscriber can ask JetStream for exactly the messages it needs):

    handoff.evt.<run>.<task>.submitted   TaskSubmitted      published by pipelines (the client)
    handoff.evt.<run>.<task>.started     TaskStarted        published by a generator replica
    handoff.evt.<run>.<task>.progress    TaskProgress       published by a generator replica
    handoff.evt.<run>.<task>.finished    TaskFinished       exactly one per task
    handoff.run.<run>.sealed             RunSealed          declares a run's size after the fact
    handoff.run.<run>.finished           RunFinished        published by the collector
    handoff.cancel.<task>                CancelRequested
    handoff.dlq.<origin>                 DeadLettered       the original bytes and the reason

``<run>`` is ``NO_RUN`` for a task submitted without a run id.
"""

from __future__ import annotations

import re
from enum import StrEnum

PREFIX = "handoff"
NO_RUN = "_"

# ---- streams -------------------------------------------------------------------------------------
EVENTS_STREAM = "HANDOFF_EVENTS"
CONTROL_STREAM = "HANDOFF_CONTROL"
DLQ_STREAM = "HANDOFF_DLQ"

# ---- durable consumers ---------------------------------------------------------------------------
GENERATOR_CONSUMER = "generators"
COLLECTOR_CONSUMER = "collector"

# ---- key-value and object-store buckets ----------------------------------------------------------
TASKS_BUCKET = "handoff_tasks"
RUNS_BUCKET = "handoff_runs"
REPLICAS_BUCKET = "handoff_replicas"  # generator presence: slots and counters, expiring when a replica dies
SNAPSHOTS_BUCKET = "handoff_snapshots"
ARTIFACTS_BUCKET = "handoff_artifacts"

# ---- JetStream's own API (Handoff calls it directly where nats-py has no call for it) ---------------
JS_API_PREFIX = "$JS.API"


def pull_next_subject(stream: str, consumer: str) -> str:
    """Where a pull request for the next messages of a durable consumer goes."""
    return f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{consumer}"


def direct_get_subject(stream: str) -> str:
    """Where a stream answers direct gets (also batch and multi-subject ones) when it allows them."""
    return f"{JS_API_PREFIX}.DIRECT.GET.{stream}"


# ---- queue groups (core NATS) --------------------------------------------------------------------
DEAD_LETTER_QUEUE_GROUP = "handoff-dead-letterers"


class EventType(StrEnum):
    """The last token of a task lifecycle subject."""

    SUBMITTED = "submitted"
    STARTED = "started"
    PROGRESS = "progress"
    FINISHED = "finished"


class Header(StrEnum):
    MSG_ID = "Nats-Msg-Id"
    SCHEMA = "Handoff-Schema"
    DEAD_LETTER_REASON = "Handoff-Dead-Letter-Reason"
    REPLAY_OF = "Handoff-Replay-Of"  # on a submit republished from the dead-letter stream: the DLQ sequence
    TRACEPARENT = "traceparent"
    TRACESTATE = "tracestate"
    EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"  # a compare-and-set write (KV)
    # set by the server on stored messages it returns and on status replies (not ours to publish)
    STATUS = "Status"
    DESCRIPTION = "Description"
    STREAM_SUBJECT = "Nats-Subject"
    STREAM_SEQUENCE = "Nats-Sequence"
    NUM_PENDING = "Nats-Num-Pending"


# ---- identifiers ---------------------------------------------------------------------------------
# Task and run ids end up as subject tokens and KV keys: letters, digits, '-' and '_' only, so no wildcard
# ('*', '>'), no '.', no space or control character can widen a filter or address another subject.
IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
IDENT_RULE = "1-64 characters: letters, digits, '-', '_'; starts with a letter or digit"
_IDENT = re.compile(IDENT_PATTERN)


class InvalidIdentifier(ValueError):
    """A task or run id that cannot be a subject token or a KV key (a wildcard, a dot, a space, too long …)."""


_VALID_SEEN: set[str] = set()
VALID_SEEN_MAX = 4096
"""Ids already found valid, remembered (a task's id is checked for every subject built from it); past this many
the memory starts over."""


def valid_id(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if value in _VALID_SEEN:
        return True
    if _IDENT.fullmatch(value) is None:
        return False
    if len(_VALID_SEEN) >= VALID_SEEN_MAX:
        _VALID_SEEN.clear()
    _VALID_SEEN.add(value)
    return True


def checked_id(value: str, what: str = "task id") -> str:
    """``value`` if it is a valid id; ``InvalidIdentifier`` naming ``what`` otherwise. Every subject and key
    built from an id below goes through here, so no caller can build a wildcard or foreign subject from one."""
    if not valid_id(value):
        shown = repr(value)[:80] if isinstance(value, str) else type(value).__name__
        raise InvalidIdentifier(f"invalid {what} {shown}: {IDENT_RULE}")
    return value


# ---- subject builders and filters ----------------------------------------------------------------
EVENTS_SUBJECTS = (f"{PREFIX}.evt.>", f"{PREFIX}.run.>")
CONTROL_SUBJECTS = (f"{PREFIX}.cancel.>",)
DLQ_SUBJECTS = (f"{PREFIX}.dlq.>",)

SUBMIT_FILTER = f"{PREFIX}.evt.*.*.{EventType.SUBMITTED}"
FINISHED_FILTER = f"{PREFIX}.evt.*.*.{EventType.FINISHED}"
ALL_TASK_EVENTS = f"{PREFIX}.evt.>"
ALL_RUN_EVENTS = f"{PREFIX}.run.>"
RUN_SEALED_FILTER = f"{PREFIX}.run.*.sealed"
RUN_FINISHED_FILTER = f"{PREFIX}.run.*.finished"
CANCEL_FILTER = f"{PREFIX}.cancel.*"
QUEUED_CANCELS_GROUP = f"{PREFIX}-queued-cancels"  # one replica finishes a cancelled task that never started


def run_token(run_id: str | None) -> str:
    return checked_id(run_id, "run id") if run_id else NO_RUN


def task_subject(run_id: str | None, task_id: str, event: EventType) -> str:
    return f"{PREFIX}.evt.{run_token(run_id)}.{checked_id(task_id)}.{event}"


def task_subject_of_tokens(run_token_: str, task_token: str, event: EventType) -> str:
    """A lifecycle subject from raw tokens, NOT checked: only for feeding malformed subjects to the intake in
    fuzz tests. Everything else uses ``task_subject``."""
    return f"{PREFIX}.evt.{run_token_}.{task_token}.{event}"


def run_submits_filter(run_id: str | None) -> str:
    """The submit subjects of every task of one run."""
    return f"{PREFIX}.evt.{run_token(run_id)}.*.{EventType.SUBMITTED}"


def task_filter(task_id: str, event: EventType | None = None) -> str:
    """Filter for one task's events when its run is not known."""
    return f"{PREFIX}.evt.*.{checked_id(task_id)}.{event if event else '*'}"


def all_tasks_filter(event: EventType | None = None) -> str:
    """Every task's events of one type (or all of them), across runs."""
    return f"{PREFIX}.evt.*.*.{event if event else '*'}"


def run_events_filter(run_id: str) -> str:
    return f"{PREFIX}.evt.{checked_id(run_id, 'run id')}.>"


def run_filter(run_id: str) -> str:
    """The run-level subjects of one run (sealed, finished)."""
    return f"{PREFIX}.run.{checked_id(run_id, 'run id')}.*"


def run_sealed_subject(run_id: str) -> str:
    return f"{PREFIX}.run.{checked_id(run_id, 'run id')}.sealed"


def run_finished_subject(run_id: str) -> str:
    return f"{PREFIX}.run.{checked_id(run_id, 'run id')}.finished"


CANCEL_PREFIX = f"{PREFIX}.cancel."


def cancel_subject(task_id: str) -> str:
    return f"{CANCEL_PREFIX}{checked_id(task_id)}"


def dlq_subject(origin: str) -> str:
    return f"{PREFIX}.dlq.{origin}"


def parse_task_subject(subject: str) -> tuple[str | None, str, str] | None:
    """``(run_id, task_id, event)`` of a task lifecycle subject, or None if it is not one."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[0] != PREFIX or parts[1] != "evt":
        return None
    run = None if parts[2] == NO_RUN else parts[2]
    return run, parts[3], parts[4]


def subject_matches(subject_filter: str, subject: str) -> bool:
    """Whether ``subject`` matches ``subject_filter`` by NATS's rules (``*`` one token, a final ``>`` one or more)."""
    if subject_filter == subject:
        return True
    want = subject_filter.split(".")
    have = subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return i == len(want) - 1 and len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(have) == len(want)


def parse_run_subject(subject: str) -> tuple[str, str] | None:
    """``(run_id, event)`` of a run-level subject (``sealed``/``finished``), or None if it is not one."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] != "run":
        return None
    return parts[2], parts[3]


def max_deliveries_advisory(stream: str, consumer: str) -> str:
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"


def kv_key_subject(bucket: str, key: str) -> str:
    """The subject of one task's or run's key (the keys of the task and run buckets are their ids)."""
    return f"$KV.{bucket}.{checked_id(key, 'key')}"


def kv_record_subject(bucket: str, key: str) -> str:
    """The subject a record of ``bucket`` is written on, for any of Handoff's record keys (a run's shard keys hold
    dots: ``<run>.tasks.<n>``); the keys come from ids checked where they entered."""
    return f"$KV.{bucket}.{key}"


def kv_stream(bucket: str) -> str:
    return f"KV_{bucket}"


# ---- message ids (JetStream de-duplication) ------------------------------------------------------
def submit_msg_id(task_id: str) -> str:
    return f"submit:{task_id}"


def finished_msg_id(task_id: str) -> str:
    return f"finished:{task_id}"


def started_msg_id(task_id: str, attempt: int) -> str:
    return f"started:{task_id}:{attempt}"


def progress_msg_id(task_id: str, attempt: int, seq: int) -> str:
    return f"progress:{task_id}:{attempt}:{seq}"


def replay_msg_id(dlq_seq: int) -> str:
    return f"replay:{dlq_seq}"


def replayed_finished_msg_id(task_id: str, dlq_seq: int) -> str:
    """A replayed task finishes again after its dead-lettered finish; its finish needs an id of its own."""
    return f"finished:{task_id}:replay-{dlq_seq}"


def run_finished_msg_id(run_id: str, revision: int = 0) -> str:
    """One RunFinished per run, and one more per revision (a replayed dead letter finished again)."""
    return f"run-finished:{run_id}" if revision == 0 else f"run-finished:{run_id}:rev-{revision}"


def dead_letter_msg_id(stream: str, stream_seq: int) -> str:
    return f"dlq:{stream}:{stream_seq}"
