"""Where the natural loop's CPU goes: ``submit`` then ``result(task_id)``, all of Handoff on one event loop,
under cProfile, with the broker messages each part sends and receives per task.

    python -m benchmarks.profile_loop [--tasks 2000] [--in-flight 64] [--top 15]

The client, one generator (``in_flight`` slots) and a collector run in this process on their own connections,
so one profile sees all three. Function calls and messages per task do not depend on the machine's load, unlike
times; the top entries by own time are in per cent of the profile. Messages are counted on each connection
(``nc.stats``): requests, publishes and acks out, replies and deliveries in.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time

from benchmarks.driver import drive_results
from benchmarks.harness import bench_topology, common_settings, fresh_server, header, quiet_logs
from benchmarks.services import _SLEEP, prepare
from handoff.broker.connect import connect
from handoff.client import HandoffClient
from handoff.client.settings import ClientSettings
from handoff.collector.collector import Collector
from handoff.collector.settings import CollectorSettings
from handoff.common.settings import NatsSettings
from handoff.generator import Generator, GeneratorSettings
from handoff.schemas.events import Sleep

NOOP = Sleep(duration_s=0)


def _short(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":
        return name
    parts = path.split("/")
    for anchor in ("site-packages", "services", "python3.12", "benchmarks"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
            break
    return f"{'/'.join(parts[-2:])}:{line} {name}"


async def profile(url: str, *, tasks: int, in_flight: int, top: int) -> str:
    topology = bench_topology(max_in_flight=in_flight)
    common = common_settings(url, topology)
    setup = await prepare(url, topology)
    client_nc = await connect(common.nats, name="profile-client", url=url)
    gen_nc = await connect(common.nats, name="profile-generator", url=url)
    col_nc = await connect(common.nats, name="profile-collector", url=url)
    client = HandoffClient(client_nc, settings=ClientSettings(nats=NatsSettings(url=url)))
    settings = GeneratorSettings(common=common, slots=in_flight, replica_id="profile-g0")
    conns = {"client": client_nc, "generator": gen_nc, "collector": col_nc}
    async with (
        Generator(gen_nc, settings=settings, runners=_SLEEP) as generator,
        Collector(col_nc.jetstream(), settings=CollectorSettings(common=common, replica_id="profile-c")) as collector,
    ):
        serving = [asyncio.create_task(generator.run()), asyncio.create_task(collector.run())]
        # warm up (first subscription, caches), then measure
        await drive_results(client, name="warm-up", tasks=min(200, tasks), in_flight=in_flight, payload=lambda _: NOOP)
        before = {k: (nc.stats["out_msgs"], nc.stats["in_msgs"]) for k, nc in conns.items()}
        writes_before = collector.stats.task_writes + collector.stats.run_writes
        profiler = cProfile.Profile()
        cpu0 = time.process_time()
        profiler.enable()
        measured = await drive_results(
            client, name="profiled", tasks=tasks, in_flight=in_flight, payload=lambda _: NOOP
        )
        profiler.disable()
        cpu = time.process_time() - cpu0
        after = {k: (nc.stats["out_msgs"], nc.stats["in_msgs"]) for k, nc in conns.items()}
        writes = collector.stats.task_writes + collector.stats.run_writes - writes_before
        await asyncio.sleep(0.2)  # let the collector finish its last batch before stopping
        generator.stop()
        collector.request_stop()
        await asyncio.gather(*serving)
    await client.close()
    for nc in (*conns.values(), setup):
        await nc.close()

    stats = pstats.Stats(profiler, stream=io.StringIO())
    calls = sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]
    out = [
        f"{tasks} tasks, {in_flight} in flight, {measured.per_s:,.0f} tasks/s under the profiler; "
        f"{'all succeeded' if not measured.failed else f'{measured.failed} failed'}; "
        f"process CPU {cpu / tasks * 1000:.2f} ms per task (profiler included); "
        f"**{calls / tasks:,.0f} Python function calls per task**",
        "",
        "| connection | messages out per task | messages in per task |",
        "|---|---|---|",
    ]
    for name in conns:
        sent = (after[name][0] - before[name][0]) / tasks
        received = (after[name][1] - before[name][1]) / tasks
        out.append(f"| {name} | {sent:.2f} | {received:.2f} |")
    out.append(f"\nThe collector's record writes: {writes / tasks:.2f} per task.")
    out += ["", *top_entries(stats, tasks=tasks, top=top)]
    return "\n".join(out)


def top_entries(stats: pstats.Stats, *, tasks: int, top: int) -> list[str]:
    """The ``top`` functions by own time, as a markdown table: per cent of the profile, calls per task."""
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    lines = ["| function (own time) | % | calls per task |", "|---|---|---|"]
    for func, entry in rows:
        lines.append(f"| `{_short(func)}` | {entry[2] / total * 100:.1f} | {entry[1] / tasks:.1f} |")
    return lines


async def main(tasks: int, in_flight: int, top: int) -> str:
    with fresh_server() as server:
        body = await profile(server.url, tasks=tasks, in_flight=in_flight, top=top)
    return header("Profile of the natural loop (one process)", "submit, then result(task_id), under cProfile") + (
        "\n" + body
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    quiet_logs()
    print(asyncio.run(main(args.tasks, args.in_flight, args.top)))


if __name__ == "__main__":
    cli()
