"""A ``handoff wait`` started after a task's first milestones: what the task reported before is read back from the
events stream (its record keeps only the last progress), printed compactly before the task's current line, and the
wait then goes on as the events arrive, without repeating any of them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.requests import Requests
from handoff.cli.waiting import wait_with_progress
from handoff.client import HandoffClient
from handoff.client.progress_history import earlier_progress
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.events import TaskProgress
from handoff.schemas.records import TaskRecord
from handoff.schemas.topology import Topology
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import Wire, finished, publish, started, submitted

RUN, TASK = "late-run", "late-task"
T0 = utcnow().replace(microsecond=0) - timedelta(minutes=10)
COMMAND = 'terminal: d="$(mktemp -d)"; echo ' + "eNq1PGuT28aR3" * 50


def progress(seq: int, stage: str, message: str, *, attempt: int = 1) -> Wire:
    event = TaskProgress(task_id=TASK, run_id=RUN, attempt=attempt, seq=seq, stage=stage, message=message,
                         at=T0 + timedelta(seconds=10 + seq))  # fmt: skip
    return Wire(names.task_subject(RUN, TASK, names.EventType.PROGRESS), event,
                names.progress_msg_id(TASK, attempt, seq))  # fmt: skip


SO_FAR = [
    submitted(TASK, run_id=RUN, at=T0),
    started(TASK, run_id=RUN, at=T0 + timedelta(seconds=5)),
    progress(0, "workspace", "snapshot 3f2a extracted: 41 files"),
    progress(1, "environment", "cache hit, 0.0 s\n(Python 3.12.1, pytest 8.4.2)"),
    progress(2, "agent_action", COMMAND),
    progress(3, "round", "round 1 of 2: " + "the targets' uncovered lines " * 12),
    progress(4, "agent_observation", "terminal (exit 0): 3 passed"),
    progress(5, "validation", "round 1: kept 3, failed 1"),
]


def stamp(seq: int) -> str:
    return (T0 + timedelta(seconds=10 + seq)).strftime("%H:%M:%S")


async def recorded(client: HandoffClient, last_seq: int) -> TaskRecord:
    """The collector's record, once it holds the progress up to ``last_seq``."""
    for _ in range(200):
        record = await client.lookups.task_record(TASK)
        if record is not None and record.last_progress is not None and record.last_progress.seq == last_seq:
            return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"the collector did not record progress {last_seq}")


def wait_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What the wait printed to stderr since the last read: the collector's log records (JSON, on stderr when an
    earlier test of the session set logging up so) are not the wait's."""
    return [line for line in capsys.readouterr().err.splitlines() if not line.startswith('{"')]


async def lines_once_seeded(capsys: pytest.CaptureFixture[str], seen: list[str]) -> None:
    """Collect stderr lines until the wait printed its running line."""
    for _ in range(200):
        seen += wait_lines(capsys)
        if any("  running  " in line for line in seen):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the wait printed no running line: {seen}")


async def waited_late(
    js: JetStreamContext, client: HandoffClient, capsys: pytest.CaptureFixture[str], later: list[Wire]
) -> list[str]:
    """``wait`` started once the record holds SO_FAR; then ``later`` and the finish are published."""
    waiting = asyncio.create_task(wait_with_progress(client, [TASK], run_id=None, timeout_s=30, quiet=False))
    seen: list[str] = []
    await lines_once_seeded(capsys, seen)
    at: datetime = T0 + timedelta(minutes=1)
    await publish(js, [*later, finished(TASK, run_id=RUN, at=at)])
    finals, timed_out = await waiting
    assert timed_out is None and TASK in finals
    return seen + wait_lines(capsys)


async def test_a_wait_started_after_a_tasks_first_milestones_prints_them_then_follows_the_task(
    js: JetStreamContext,
    topology: Topology,
    client: HandoffClient,
    running_collector: RunningCollector,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Off a terminal: the milestones before the record's last progress, one compact line each with its time (no
    agent step, a long one cut with an ellipsis), then the running line as before, then what follows; the record's
    last progress, delivered by the watch as well, is not printed twice."""
    async with running_collector(js):
        await publish(js, SO_FAR)
        await recorded(client, 5)
        again = progress(5, "validation", "round 1: kept 3, failed 1")  # stored twice: no message id
        later = [Wire(again.subject, again.event, None), progress(6, "assurance", "mutants killed: m.py 7/8")]
        lines = await waited_late(js, client, capsys, later)

    round_line = f"{TASK}  earlier  {stamp(3)}  round: round 1 of 2: " + "the targets' uncovered lines " * 12
    assert lines[:5] == [
        f"{TASK}  earlier  {stamp(0)}  workspace: snapshot 3f2a extracted: 41 files",
        f"{TASK}  earlier  {stamp(1)}  environment: cache hit, 0.0 s (Python 3.12.1, pytest 8.4.2)",
        round_line[: len(f"{TASK}  earlier  {stamp(3)}  ") + 159].rstrip() + "…",
        f"{TASK}  running  validation: round 1: kept 3, failed 1",
        f"{TASK}  running  assurance: mutants killed: m.py 7/8",
    ]
    assert lines[5].startswith(f"{TASK}  succeeded") and len(lines) == 6


async def test_a_late_wait_whose_task_has_lost_its_first_progress_to_the_streams_limits_shows_the_last_alone(
    js: JetStreamContext,
    topology: Topology,
    client: HandoffClient,
    running_collector: RunningCollector,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The stream keeps only the last progress events (as a per-subject or age limit would leave it): the earlier
    milestones are not shown as if they were all there; the wait shows the last progress, as before."""
    async with running_collector(js):
        await publish(js, SO_FAR)
        await recorded(client, 5)
        await js.purge_stream(names.EVENTS_STREAM, subject=names.task_subject(RUN, TASK, names.EventType.PROGRESS),
                              keep=3)  # fmt: skip
        lines = await waited_late(js, client, capsys, [])

    assert lines[0] == f"{TASK}  running  validation: round 1: kept 3, failed 1"
    assert lines[1].startswith(f"{TASK}  succeeded") and len(lines) == 2


async def test_the_earlier_progress_read_is_bounded_says_how_many_it_left_unread_and_skips_an_earlier_attempt(
    nc: NATS, js: JetStreamContext, topology: Topology, client: HandoffClient, running_collector: RunningCollector
) -> None:
    """A retried task: its first attempt's progress is not the current attempt's; a read bounded to 3 messages
    returns the attempt's first ones and counts those between them and the record's last as not read."""
    retried = [
        *SO_FAR[:2],
        progress(0, "workspace", "attempt 1"),
        progress(1, "environment", "attempt 1 failed"),
        started(TASK, run_id=RUN, attempt=2, at=T0 + timedelta(seconds=30)),
        *(progress(seq, "round", f"attempt 2, step {seq}", attempt=2) for seq in range(6)),
    ]
    async with running_collector(js):
        await publish(js, retried)
        record = await recorded(client, 5)
    requests = Requests(nc)
    try:
        whole = await earlier_progress(requests, record)
        bounded = await earlier_progress(requests, record, max_messages=3)
    finally:
        await requests.close()
    assert whole is not None and whole.later_unread == 0
    assert [(e.attempt, e.seq, e.message) for e in whole.events] == [(2, s, f"attempt 2, step {s}") for s in range(5)]
    assert bounded is not None and [e.seq for e in bounded.events] == [0, 1, 2] and bounded.later_unread == 2
