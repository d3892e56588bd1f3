"""Chaos: three generator replica processes run 300 tasks while replicas are SIGKILLed and replaced at random and
nats-server is SIGKILLed and restarted once. Every task finishes exactly once, and the collector agrees."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import ClientSettings, HandoffClient
from handoff.common.settings import NatsSettings
from handoff.schemas import names
from handoff.schemas.events import Sleep, TaskFinished, TaskStarted, TaskStatus
from handoff.schemas.records import TaskState
from handoff.schemas.topology import Topology
from tests.chaos.conftest import CHAOS_TOPOLOGY
from tests.chaos.harness import BrokerOutage, ChaosLog, Kill, ReplicaFleet, run_chaos
from tests.collector.conftest import RunningCollector
from tests.collector.probes import run_finished, run_finished_counts, task_record
from tests.generator.support import dead_letters, read_events
from tests.support.nats import eventually

SEED = int(os.environ.get("HANDOFF_CHAOS_SEED", "20261125"))
REPLICAS = 3
SLOTS = 4
RUNS = 3
TASKS_PER_RUN = 100
WAVES = (150, 100, 50)  # submitted at the start, during the chaos, and after the broker came back
REPLICA_KILLS = 16
FINISHED_FILTER = names.all_tasks_filter(names.EventType.FINISHED)
STARTED_FILTER = names.all_tasks_filter(names.EventType.STARTED)


@contextlib.contextmanager
def fleet_of(url: str, log_dir: Path) -> Iterator[ReplicaFleet]:
    fleet = ReplicaFleet(
        url,
        log_dir,
        size=REPLICAS,
        env={
            "HANDOFF_GENERATOR_SLOTS": str(SLOTS),
            "HANDOFF_SHUTDOWN_GRACE_S": "5",
            "HANDOFF_NATS_CONNECT_ATTEMPTS": "20",
            "HANDOFF_NATS_CONNECT_TIMEOUT_S": "2",
        },
    )
    try:
        yield fleet
    finally:
        fleet.close()


async def per_subject(js: JetStreamContext, subject_filter: str) -> dict[str, int]:
    """Messages per task id on subjects matching ``subject_filter`` (``handoff.evt.<run>.<task>.<type>``)."""
    info = await js.stream_info(names.EVENTS_STREAM, subjects_filter=subject_filter)
    return {subject.split(".")[3]: n for subject, n in (info.state.subjects or {}).items()}


def kill_behind(earlier: TaskStarted, later: TaskStarted, chaos: ChaosLog) -> Kill | None:
    """The SIGKILL of the process that ran ``earlier``, between that run's start and the next run's start."""
    return next(
        (
            k
            for k in chaos.kills
            if k.replica_id == earlier.replica_id and earlier.started_at <= k.at <= later.started_at
        ),
        None,
    )


def outage_behind(earlier: TaskStarted, later: TaskStarted, chaos: ChaosLog) -> BrokerOutage | None:
    """A broker outage while ``earlier`` ran: its heartbeats could not reach the server for up to ack_wait."""
    return next((o for o in chaos.outages if earlier.started_at <= o.up_at and later.started_at >= o.down_at), None)


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_every_task_finishes_exactly_once_while_replicas_and_the_broker_are_killed(
    nats_server: EmbeddedNats,
    nc: NATS,
    js: JetStreamContext,
    topology: Topology,
    running_collector: RunningCollector,
    tmp_path: Path,
) -> None:
    """300 tasks, up to 16 replica SIGKILLs, one nats-server SIGKILL: one TaskFinished per task, all succeeded."""
    rng = random.Random(SEED)
    began = time.monotonic()
    client = HandoffClient(
        nc, settings=ClientSettings(nats=NatsSettings(publish_timeout_s=1.0), submitter="chaos", submit_timeout_s=60)
    )
    tasks = [(f"chaos-{run}-{i:03d}", f"run-{run}") for run in range(RUNS) for i in range(TASKS_PER_RUN)]
    rng.shuffle(tasks)
    durations = {task_id: round(rng.uniform(0.05, 1.5), 3) for task_id, _ in tasks}
    broker_back = asyncio.Event()

    async def submit_wave(wave: list[tuple[str, str]]) -> None:
        for task_id, run_id in wave:
            await client.submit(
                Sleep(duration_s=durations[task_id]), task_id=task_id, run_id=run_id, run_size=TASKS_PER_RUN
            )

    async def all_finished() -> bool:
        try:
            return len(await per_subject(js, FINISHED_FILTER)) >= len(tasks)
        except (TimeoutError, nats.errors.Error):  # reconnecting after the broker restart
            return False

    async def submitter() -> None:
        first, second, _ = WAVES
        await submit_wave(tasks[:first])
        await asyncio.sleep(rng.uniform(4.0, 6.0))
        await submit_wave(tasks[first : first + second])
        await broker_back.wait()
        await submit_wave(tasks[first + second :])

    with fleet_of(nats_server.url, tmp_path / "replicas") as fleet:
        try:
            async with running_collector(js, replica_id="chaos-collector") as collector:
                submitting = asyncio.create_task(submitter())
                chaos = await run_chaos(
                    fleet,
                    nats_server,
                    rng,
                    replica_kills=REPLICA_KILLS,
                    broker_kill_after=REPLICA_KILLS // 2,
                    pause_s=(1.0, 2.5),
                    restart_after_s=(0.2, 1.0),
                    broker_downtime_s=1.5,
                    done=all_finished,
                    on_broker_back=broker_back,
                )
                await submitting
                chaos_s = time.monotonic() - began
                await eventually(all_finished, timeout_s=120, interval_s=0.5, what="every task to finish")

                async def nothing_in_flight() -> bool:
                    generators = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
                    collecting = await js.consumer_info(names.EVENTS_STREAM, names.COLLECTOR_CONSUMER)
                    return not any(
                        (generators.num_ack_pending, generators.num_pending, collecting.num_ack_pending,
                         collecting.num_pending)
                    )  # fmt: skip

                await eventually(nothing_in_flight, timeout_s=30, what="no submit or event left in flight")

                async def runs_reported() -> bool:
                    return len(await run_finished_counts(js)) == RUNS

                await eventually(runs_reported, timeout_s=30, what="a RunFinished per run")
                assert collector.ready
            exit_codes = fleet.terminate_all(timeout_s=30)
        except BaseException:
            print(fleet.logs())
            raise
        rerun_skipped = fleet.count_in_logs("task has finished already")

    # exactly one TaskFinished per task, all succeeded
    finished_counts = await per_subject(js, FINISHED_FILTER)
    assert finished_counts == {task_id: 1 for task_id, _ in tasks}
    finished: dict[str, TaskFinished] = {}
    for event in await read_events(js, FINISHED_FILTER):
        assert isinstance(event, TaskFinished)
        finished[event.task_id] = event
    assert not [f for f in finished.values() if f.status is not TaskStatus.SUCCEEDED]
    assert await dead_letters(js) == []

    # every re-execution comes from a kill
    starts: dict[str, list[TaskStarted]] = defaultdict(list)
    for event in await read_events(js, STARTED_FILTER):
        assert isinstance(event, TaskStarted)
        starts[event.task_id].append(event)
    assert set(starts) == set(finished)
    after_kill: Counter[Kill] = Counter()
    after_outage = 0
    unexplained = []
    for task_id, runs in starts.items():
        runs.sort(key=lambda s: s.attempt)
        for earlier, later in itertools.pairwise(runs):
            if (kill := kill_behind(earlier, later, chaos)) is not None:
                after_kill[kill] += 1
            elif outage_behind(earlier, later, chaos) is not None:
                after_outage += 1
            else:
                unexplained.append((task_id, earlier.replica_id, earlier.attempt, later.replica_id, later.attempt))
        assert (finished[task_id].attempt, finished[task_id].replica_id) in {(s.attempt, s.replica_id) for s in runs}
    assert unexplained == [], "re-executions with no kill behind them"
    assert max(after_kill.values(), default=0) <= SLOTS, "one SIGKILL re-ran more tasks than its replica held"
    assert after_outage <= CHAOS_TOPOLOGY.max_ack_pending
    reexecutions = sum(len(runs) for runs in starts.values()) - len(tasks)
    assert reexecutions == sum(after_kill.values()) + after_outage

    # the collector's records agree with the stream
    for task_id, _ in tasks:
        record = await task_record(js, task_id)
        assert record is not None and record.state is TaskState.SUCCEEDED, (task_id, record)
        assert record.finished == finished[task_id]
        assert sorted(a.attempt for a in record.attempts) == sorted(s.attempt for s in starts[task_id])
    for run in range(RUNS):
        reported = await run_finished(js, f"run-{run}")
        assert reported is not None and reported.counts == {TaskStatus.SUCCEEDED: TASKS_PER_RUN}
    assert await run_finished_counts(js) == {f"run-{run}": 1 for run in range(RUNS)}
    assert set(exit_codes.values()) == {0}, exit_codes

    print(
        f"\nchaos seed {SEED}: {len(tasks)} tasks, {len(chaos.kills)} replica SIGKILLs, "
        f"{len(chaos.outages)} nats-server SIGKILL; {reexecutions} re-executions "
        f"({sum(after_kill.values())} after a replica SIGKILL, {after_outage} across the broker outage; "
        f"{sum(1 for r in starts.values() if len(r) > 1)} tasks ran more than once), "
        f"{rerun_skipped} redelivered submits of finished tasks acked without running; "
        f"chaos phase {chaos_s:.0f} s, total {time.monotonic() - began:.0f} s"
    )
