"""Round trip: no-op tasks (``Sleep(duration_s=0)``) through the whole Handoff path, next to the raw nats-py floor.

    python -m benchmarks.roundtrip [--tasks 10000] [--in-flight 64] [--no-processes] [--modes watch,result]
                                   [--profile-dir DIR [--top 15]]

Path: client submit -> generator -> lifecycle events -> collector -> the client sees the result; the run ends
when the collector's RunFinished arrives. ``in_flight`` tasks are outstanding at any time, and the consumer's
global cap is the same number. Rows, each on a fresh nats-server:

* the raw floor (``benchmarks/raw_floor.py``), measured before and after the Handoff rows; ratios are against
  the mean of the two, so a machine that gets busier during the run does not flatter either side;
* Handoff in one process: client, one generator replica (``slots = in_flight``) and a collector on one event
  loop, as the floor's producer and worker share one;
* Handoff as deployed: ``handoff generator`` and ``handoff collector`` child processes, the client here. Its
  CPU seconds per task, per process, say where the time goes. Two modes, each on its own fresh server:
  ``watch`` (the tasks of one run, followed with one ``client.watch``, ended by the run's RunFinished) and
  ``result`` (the natural loop: each of ``in_flight`` callers submits one task, awaits ``client.result`` of
  that task id, and takes the next; no run).

With ``--profile-dir``, the generator and collector processes run under cProfile (their imports left out: see
``benchmarks/profiled_service.py``), write ``DIR/<mode>/<command>.prof``, and their top entries by own time are
printed. The profiler slows them down (about 2.4 times the CPU), so the rows' speed then says nothing; profile
in a run of its own. Its counts include each process's connect and shutdown, and a coroutine's every resumption
counts as a call.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import pstats
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.driver import drive, drive_results
from benchmarks.harness import TABLE_HEAD, Measurement, bench_topology, cpu_s, fresh_server, header, quiet_logs
from benchmarks.profile_loop import top_entries
from benchmarks.raw_floor import raw_round_trip
from benchmarks.services import as_processes, in_process, prepare
from handoff.client import HandoffClient
from handoff.client.settings import ClientSettings
from handoff.common.settings import NatsSettings
from handoff.schemas.events import Sleep

NOOP = Sleep(duration_s=0)


async def handoff_in_process(url: str, *, tasks: int, in_flight: int) -> Measurement:
    topology = bench_topology(max_in_flight=in_flight)
    nc = await prepare(url, topology)
    client = HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(url=url)))
    try:
        async with in_process(url, topology, slots=in_flight):
            return await drive(
                client,
                name="Handoff, one process",
                run_id="rt-inproc",
                tasks=tasks,
                in_flight=in_flight,
                payload=lambda _: NOOP,
            )
    finally:
        await nc.close()


MODES = ("watch", "result")
ROW_NAMES = {"watch": "Handoff, services as processes", "result": "Handoff, services as processes, result() per task"}


async def handoff_processes(
    url: str, *, tasks: int, in_flight: int, server_pid: int, mode: str = "watch", profile: Profiling | None = None
) -> tuple[Measurement, str]:
    topology = bench_topology(max_in_flight=in_flight)
    nc = await prepare(url, topology)
    client = HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(url=url)))
    try:
        profile_dir = None
        if profile is not None:
            profile_dir = profile.directory / mode
            profile_dir.mkdir(parents=True, exist_ok=True)
        async with as_processes(url, topology, slots=in_flight, profile_dir=profile_dir) as (gens, collector):
            assert collector is not None
            pids = {"client (this process)": None, "generator": gens[0].pid, "collector": collector.pid}
            pids["nats-server"] = server_pid
            before = {k: _cpu(p) for k, p in pids.items()}
            if mode == "result":
                measured = await drive_results(
                    client, name=ROW_NAMES[mode], tasks=tasks, in_flight=in_flight, payload=lambda _: NOOP
                )
            else:
                measured = await drive(
                    client,
                    name=ROW_NAMES[mode],
                    run_id="rt-procs",
                    tasks=tasks,
                    in_flight=in_flight,
                    payload=lambda _: NOOP,
                )
            used = {k: _cpu(p) - before[k] for k, p in pids.items()}
    finally:
        await client.close()
        await nc.close()
    lines = ["| process | CPU s | CPU ms per task | share of the wall time |", "|---|---|---|---|"]
    for what, seconds in used.items():
        lines.append(
            f"| {what} | {seconds:.2f} | {seconds / tasks * 1000:.3f} | {seconds / measured.wall_s * 100:.0f} % |"
        )
    if profile is not None and profile_dir is not None:
        for command in ("generator", "collector"):
            stats = pstats.Stats(str(profile_dir / f"{command}.prof"), stream=io.StringIO())
            lines += ["", f"Profile of the {command} process ({profile_dir / command}.prof):", ""]
            lines += top_entries(stats, tasks=tasks, top=profile.top)
    return measured, "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Profiling:
    directory: Path
    top: int = 15


def _cpu(pid: int | None) -> float:
    return time.process_time() if pid is None else cpu_s(pid)


async def main(
    tasks: int, in_flight: int, processes: bool, modes: tuple[str, ...] = MODES, profile: Profiling | None = None
) -> str:
    out = [
        header(
            "Round trip",
            f"{tasks} no-op tasks, {in_flight} in flight, submit -> generator -> collector -> client; "
            "x baseline = tasks/s over the raw nats-py floor (mean of the measurements before and after).",
        )
    ]
    with fresh_server() as server:
        floor_before = await raw_round_trip(
            server.url, tasks=tasks, in_flight=in_flight, name="raw nats-py floor (before)"
        )
    with fresh_server() as server:
        one_process = await handoff_in_process(server.url, tasks=tasks, in_flight=in_flight)
    deployed: list[tuple[str, Measurement, str]] = []
    for mode in modes if processes else ():
        with fresh_server() as server:
            assert server.pid is not None
            measured, cpu_table = await handoff_processes(
                server.url, tasks=tasks, in_flight=in_flight, server_pid=server.pid, mode=mode, profile=profile
            )
            deployed.append((mode, measured, cpu_table))
    with fresh_server() as server:
        floor_after = await raw_round_trip(
            server.url, tasks=tasks, in_flight=in_flight, name="raw nats-py floor (after)"
        )
    floor = Measurement(
        "raw nats-py floor (mean)",
        tasks,
        (floor_before.wall_s + floor_after.wall_s) / 2,
        [*floor_before.latencies_s, *floor_after.latencies_s],
    )
    rows = [floor_before, floor_after, floor, one_process, *(m for _, m, _ in deployed)]
    out.append(TABLE_HEAD)
    out += [m.row(floor) for m in rows]
    failed = sum(m.failed for m in rows)
    if failed:
        out.append(f"\n**{failed} task(s) did not succeed.**")
    for mode, _, cpu_table in deployed:
        out.append(f"\nWhere the CPU goes (services as processes, {mode} mode, {tasks} tasks):\n\n{cpu_table}")
    return "\n".join(out)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--no-processes", action="store_true", help="skip the rows with services as processes")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated modes of the services-as-processes rows"
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        help="run the generator and collector processes under cProfile, write their stats here and print their top "
        "entries (the speed figures of such a run are the profiler's)",
    )
    parser.add_argument("--top", type=int, default=15, help="entries per profile (with --profile-dir)")
    args = parser.parse_args()
    modes = tuple(m for m in args.modes.split(",") if m)
    if unknown := [m for m in modes if m not in MODES]:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; known: {', '.join(MODES)}")
    quiet_logs()
    profile = Profiling(args.profile_dir, args.top) if args.profile_dir is not None else None
    print(asyncio.run(main(args.tasks, args.in_flight, not args.no_processes, modes, profile)))


if __name__ == "__main__":
    cli()
