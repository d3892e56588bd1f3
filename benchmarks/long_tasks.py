"""Long tasks: 200 tasks of 0.5 s on one generator replica with 16 slots. What does Handoff add to the work?

    python -m benchmarks.long_tasks [--tasks 200] [--task-s 0.5] [--slots 16] [--replicas 1,2]

The floor is the work itself: ceil(200 / 16) = 13 waves of 0.5 s = 6.5 s. All tasks are submitted at once (one
run); the global cap is 16. The measurement ends when the collector's RunFinished reaches the client. Rows:

* a raw nats-py worker with 16 slots doing the same sleeps (``benchmarks/raw_floor.py``), measured in the same
  run: what JetStream itself costs;
* Handoff as deployed: a ``handoff generator`` process (16 slots) and a ``handoff collector`` process;
* with ``--replicas 1,2``, also the same 16 slots split over 2 generator processes (8 each): at the end of a
  wave, each process refills only its own slots, on its own core.

Overhead = wall time over the 6.5 s floor.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics

from benchmarks.driver import drive
from benchmarks.harness import Measurement, bench_topology, fresh_server, header, quiet_logs
from benchmarks.raw_floor import raw_round_trip
from benchmarks.services import as_processes, prepare
from handoff.client import HandoffClient
from handoff.client.settings import ClientSettings
from handoff.common.settings import NatsSettings
from handoff.schemas.events import AnyEvent, RunFinished, Sleep, TaskFinished, TaskStarted, TaskSubmitted


async def handoff(
    url: str, *, tasks: int, task_s: float, slots: int, events: list[AnyEvent], replicas: int = 1
) -> Measurement:
    topology = bench_topology(max_in_flight=slots)
    nc = await prepare(url, topology)
    client = HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(url=url)))
    each = slots // replicas
    name = (
        f"Handoff (1 generator process, {slots} slots)"
        if replicas == 1
        else f"Handoff ({replicas} generator processes x {each} slots)"
    )
    try:
        async with as_processes(url, topology, generators=replicas, slots=each):
            return await drive(
                client,
                name=name,
                run_id="long",
                tasks=tasks,
                in_flight=tasks,
                payload=lambda _: Sleep(duration_s=task_s),
                events=events,
            )
    finally:
        await nc.close()


def breakdown(events: list[AnyEvent], *, slots: int, task_s: float) -> str:
    """Where the time beyond the sleeps goes, from the events' own timestamps (one machine, one clock)."""
    submitted = sorted(e.submitted_at for e in events if isinstance(e, TaskSubmitted))
    starts = sorted(e.started_at for e in events if isinstance(e, TaskStarted))
    finished = [e for e in events if isinstance(e, TaskFinished)]
    finishes = sorted(e.finished_at for e in finished)
    run_end = next(e.finished_at for e in events if isinstance(e, RunFinished))
    join_s = (run_end - finishes[-1]).total_seconds()
    started_of = {e.task_id: e.started_at for e in events if isinstance(e, TaskStarted)}
    beyond = [(f.finished_at - started_of[f.task_id]).total_seconds() - task_s for f in finished]
    handover = [(starts[i] - finishes[i - slots]).total_seconds() for i in range(slots, len(starts))]
    ms = 1000
    lines = [
        "| where | ms |",
        "|---|---|",
        f"| first submit -> first TaskStarted | {(starts[0] - submitted[0]).total_seconds() * ms:.1f} |",
        f"| TaskStarted -> TaskFinished beyond the {task_s} s sleep (mean / max) | "
        f"{statistics.mean(beyond) * ms:.1f} / {max(beyond) * ms:.1f} |",
        f"| a slot's TaskFinished -> the next TaskStarted in it (mean / max of {len(handover)}) | "
        f"{statistics.mean(handover) * ms:.1f} / {max(handover) * ms:.1f} |",
        f"| last TaskFinished -> RunFinished (the collector's join) | {join_s * ms:.1f} |",
    ]
    return "\n".join(lines)


def row(m: Measurement, ideal_s: float, raw: Measurement) -> str:
    overhead = (m.wall_s / ideal_s - 1) * 100
    return (
        f"| {m.name} | {m.tasks} | {m.wall_s:.3f} | {ideal_s:.3f} | {overhead:+.2f} % | "
        f"{m.wall_s - ideal_s:+.3f} | {m.wall_s / raw.wall_s:.3f} |"
    )


async def main(tasks: int, task_s: float, slots: int, replicas: tuple[int, ...] = (1,)) -> str:
    if any(r < 1 or slots % r for r in replicas):
        raise ValueError(f"--replicas must divide the {slots} slots evenly, got {replicas}")
    waves = math.ceil(tasks / slots)
    ideal_s = waves * task_s
    out = [
        header(
            "Long tasks",
            f"{tasks} tasks of {task_s} s, {slots} slots, all submitted at once; floor = {waves} waves x {task_s} s "
            f"= {ideal_s} s. x raw = wall time over the raw nats-py worker's.",
        ),
        "| path | tasks | wall s | floor s | overhead | overhead s | x raw |",
        "|---|---|---|---|---|---|---|",
    ]
    with fresh_server() as server:
        raw = await raw_round_trip(
            server.url, tasks=tasks, in_flight=tasks, slots=slots, work_s=task_s, name=f"raw nats-py, {slots} slots"
        )
    out.append(row(raw, ideal_s, raw))
    wheres: list[str] = []
    failed = 0
    for count in replicas:
        events: list[AnyEvent] = []
        with fresh_server() as server:
            measured = await handoff(server.url, tasks=tasks, task_s=task_s, slots=slots, events=events, replicas=count)
        out.append(row(measured, ideal_s, raw))
        failed += measured.failed
        if not wheres:  # the breakdown of the first Handoff row
            wheres.append(breakdown(events, slots=slots, task_s=task_s))
    out.append(f"\nWhere Handoff's overhead goes ({replicas[0]} generator process(es); from the events' timestamps):")
    out.append(f"\n{wheres[0]}")
    if failed:
        out.append(f"\n**{failed} task(s) did not succeed.**")
    return "\n".join(out)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--task-s", type=float, default=0.5)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument(
        "--replicas", default="1", help="generator process counts to measure, comma-separated (default: 1)"
    )
    args = parser.parse_args()
    replicas = tuple(int(r) for r in args.replicas.split(","))
    quiet_logs()
    print(asyncio.run(main(args.tasks, args.task_s, args.slots, replicas)))


if __name__ == "__main__":
    cli()
