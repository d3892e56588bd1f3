"""Scale-out: throughput with 1, 2 and 4 ``handoff generator`` processes on a fixed per-task sleep.

    python -m benchmarks.scale_out [--replicas 1,2,4] [--tasks 240] [--task-s 0.2] [--slots 4]

Each replica has ``slots`` slots; the global cap is set high enough not to bind (replicas x slots). The client
keeps two tasks per slot outstanding, so no replica waits for work. A ``handoff collector`` process folds the
events; a measurement ends with the run's RunFinished. Each row runs on a fresh nats-server. x baseline = tasks/s
over the single replica's; "of ideal" = tasks/s over replicas x slots / task time.
"""

from __future__ import annotations

import argparse
import asyncio

from benchmarks.driver import drive
from benchmarks.harness import Measurement, bench_topology, fresh_server, header, quiet_logs
from benchmarks.services import as_processes, prepare
from handoff.client import HandoffClient
from handoff.client.settings import ClientSettings
from handoff.common.settings import NatsSettings
from handoff.schemas.events import Sleep


async def measure(url: str, *, replicas: int, tasks: int, task_s: float, slots: int) -> Measurement:
    capacity = replicas * slots
    topology = bench_topology(max_in_flight=capacity)
    nc = await prepare(url, topology)
    client = HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(url=url)))
    try:
        async with as_processes(url, topology, generators=replicas, slots=slots):
            return await drive(
                client,
                name=f"{replicas} replica(s) x {slots} slots",
                run_id=f"scale-{replicas}",
                tasks=tasks,
                in_flight=2 * capacity,
                payload=lambda _: Sleep(duration_s=task_s),
            )
    finally:
        await nc.close()


async def main(replica_counts: list[int], tasks: int, task_s: float, slots: int) -> str:
    out = [
        header(
            "Scale-out",
            f"{tasks} tasks of {task_s} s per measurement, {slots} slots per `handoff generator` process.",
        ),
        "| replicas | tasks | wall s | tasks/s | ideal tasks/s | of ideal | p50 ms | x baseline (1st row) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows: list[tuple[int, Measurement]] = []
    for replicas in replica_counts:
        with fresh_server() as server:
            rows.append(
                (replicas, await measure(server.url, replicas=replicas, tasks=tasks, task_s=task_s, slots=slots))
            )
    baseline = rows[0][1]
    for replicas, m in rows:
        ideal = replicas * slots / task_s
        share = m.per_s / ideal * 100
        out.append(
            f"| {replicas} | {m.tasks} | {m.wall_s:.2f} | {m.per_s:.1f} | {ideal:.1f} | {share:.0f} % | "
            f"{m.pct_ms(0.5):.0f} | {m.per_s / baseline.per_s:.2f} |"
        )
    failed = sum(m.failed for _, m in rows)
    if failed:
        out.append(f"\n**{failed} task(s) did not succeed.**")
    return "\n".join(out)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", default="1,2,4", help="comma-separated replica counts (default 1,2,4)")
    parser.add_argument("--tasks", type=int, default=240)
    parser.add_argument("--task-s", type=float, default=0.2)
    parser.add_argument("--slots", type=int, default=4)
    args = parser.parse_args()
    quiet_logs()
    counts = [int(n) for n in args.replicas.split(",") if n.strip()]
    print(asyncio.run(main(counts, args.tasks, args.task_s, args.slots)))


if __name__ == "__main__":
    cli()
