"""Memory: a ``handoff generator`` process idle, and what each in-flight agent task adds to it.

    python -m benchmarks.memory [--levels 1,2,4] [--turn-s 1.0] [--snapshot-mib 100]

The agent runs with the SCRIPTED MODEL (a script, not an LLM: it writes a doctest-driven test per module, runs
it, finishes), served from this process over HTTP as a remote model would be. Every reply is held back
``turn_s`` seconds so that the tasks of a level are in flight at the same time. The tasks generate tests for the
sample project shipped with the demo (``services/demo/sample_project``).

Measured with ``/proc``, in MiB: the generator's RSS, and that plus the PSS of its child processes (the agent's
terminal, the pytest runs of validation; PSS splits the pages they share, so the interpreter is not counted
once per child).

1. idle: after start-up, before any task (the agent SDK is imported only when the first test-generation task
   builds its runner, ``services/runners/registry.py``);
2. after one warm-up task: the SDK loaded, nothing in flight (the baseline of step 3);
3. for each level K: K tasks submitted together; the peak RSS while they run, minus the RSS just before;
4. a large snapshot: one task on the sample project, then the same task on the sample project plus incompressible
   data files that make its snapshot ``snapshot_mib`` MiB (100 by default). The generator downloads it into a
   temporary file and extracts it from there; what the large snapshot adds to the peak is the difference between
   the two tasks' growth (goal: at most 20 MiB for 100 MiB).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from benchmarks.driver import drive
from benchmarks.harness import bench_topology, children_pss_mb, fresh_server, header, quiet_logs, rss_mb
from benchmarks.services import as_processes, prepare
from handoff.artifacts.settings import MIB, SnapshotLimits
from handoff.artifacts.snapshots import upload_snapshot
from handoff.client import HandoffClient
from handoff.client.settings import ClientSettings
from handoff.common.settings import NatsSettings
from handoff.schemas.events import AnyEvent, GenerateTests, SourceSnapshot, TaskFinished, TaskStarted
from handoff.scripted_model.policies import TestWriterPolicy
from handoff.scripted_model.replies import ChatRequest, Reply, Slow
from handoff.scripted_model.server import ScriptedModelServer
from handoff.workflow.config import WorkflowSpec
from handoff.workflow.discovery import discover_targets

SAMPLE = Path(__file__).resolve().parent.parent / "services" / "demo" / "sample_project"
IDLE_GOAL_MB = 300.0
PER_TASK_GOAL_MB = 50.0
SNAPSHOT_GOAL_MB = 20.0  # for a 100 MiB snapshot
BLOB_BYTES = 4 * MIB  # one data file of the large snapshot (under the default per-file limit)


class SlowTurns:
    """The scripted test writer, every reply held back ``turn_s`` seconds (a slow model)."""

    def __init__(self, turn_s: float) -> None:
        self.turn_s = turn_s
        self.inner = TestWriterPolicy()

    def __call__(self, request: ChatRequest) -> Reply:
        return Slow(self.turn_s, self.inner(request))


class Sampler:
    """Polls the RSS of one process (and of its tree) in the background."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Sampler:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _poll(self) -> None:
        while True:
            rss = rss_mb(self.pid)
            self.samples.append((rss, rss + children_pss_mb(self.pid)))
            await asyncio.sleep(self.interval_s)

    def peak(self) -> tuple[float, float]:
        return max(s[0] for s in self.samples), max(s[1] for s in self.samples)


async def settled(pid: int, seconds: float = 1.0) -> tuple[float, float]:
    """The median RSS (alone, tree) over ``seconds`` of quiet."""
    async with Sampler(pid, interval_s=0.1) as sampler:
        await asyncio.sleep(seconds)
    return (
        statistics.median(s[0] for s in sampler.samples),
        statistics.median(s[1] for s in sampler.samples),
    )


def overlap(events: list[AnyEvent]) -> int:
    """The most tasks running at one instant, from their TaskStarted / TaskFinished timestamps."""
    points = [(e.started_at, 1) for e in events if isinstance(e, TaskStarted)]
    points += [(e.finished_at, -1) for e in events if isinstance(e, TaskFinished)]
    running = peak = 0
    for _, step in sorted(points, key=lambda p: (p[0], p[1])):
        running += step
        peak = max(peak, running)
    return peak


async def run_level(
    client: HandoffClient, pid: int, snapshot: SourceSnapshot, targets: list[str], level: int, run_id: str
) -> tuple[tuple[float, float], tuple[float, float], int, int]:
    before = await settled(pid)
    events: list[AnyEvent] = []
    async with Sampler(pid) as sampler:
        measured = await drive(
            client,
            name=run_id,
            run_id=run_id,
            tasks=level,
            in_flight=level,
            payload=lambda i: GenerateTests(source=snapshot, targets=[targets[i % len(targets)]]),
            events=events,
        )
    return before, sampler.peak(), overlap(events), measured.failed


def add_data_files(repo: Path, total_mib: int) -> None:
    """Incompressible data files under ``repo/data`` that bring the tree to about ``total_mib`` MiB."""
    data = repo / "data"
    data.mkdir()
    remaining = total_mib * MIB - sum(p.stat().st_size for p in repo.rglob("*") if p.is_file())
    index = 0
    while remaining > 0:
        size = min(BLOB_BYTES, remaining)
        (data / f"blob-{index:03d}.bin").write_bytes(os.urandom(size))
        remaining -= size
        index += 1


async def main(levels: list[int], turn_s: float, snapshot_mib: int = 100) -> str:
    out = [
        header(
            "Memory",
            f"`handoff generator` RSS (MiB); scripted-model agent tasks, each model reply held back {turn_s} s; "
            f"levels {levels} tasks in flight. Goals: idle <= {IDLE_GOAL_MB:.0f} MiB, "
            f"<= {PER_TASK_GOAL_MB:.0f} MiB per in-flight task, <= {SNAPSHOT_GOAL_MB:.0f} MiB added by a 100 MiB "
            "snapshot.",
        )
    ]
    slots = max(levels)
    with tempfile.TemporaryDirectory(prefix="handoff-bench-mem-") as tmp, fresh_server() as server:
        repo = Path(tmp) / "sample"
        shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        large_repo = Path(tmp) / "sample-large"
        shutil.copytree(repo, large_repo)
        add_data_files(large_repo, snapshot_mib)
        large_limits = SnapshotLimits(max_total_bytes=2 * snapshot_mib * MIB)
        targets = discover_targets(repo, WorkflowSpec(component="inventory"))
        topology = bench_topology(max_in_flight=slots)
        nc = await prepare(server.url, topology)
        client = HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(url=server.url)))
        try:
            async with ScriptedModelServer(policy=SlowTurns(turn_s)) as model:
                env = {
                    "HANDOFF_SCRIPTED_MODEL": "true",
                    "HANDOFF_LLM_BASE_URL": model.base_url,
                    "HANDOFF_WORK_DIR": str(Path(tmp) / "work"),
                    "HANDOFF_SNAPSHOT_MAX_BYTES": str(large_limits.max_total_bytes),
                    # memory of tasks in flight, not the mutation step's length (its processes run in the sandbox)
                    "HANDOFF_MUTATION_BUDGET_S": "0",
                }
                async with as_processes(server.url, topology, slots=slots, generator_env=env) as (gens, _):
                    pid = gens[0].pid
                    idle = await settled(pid, 2.0)
                    snapshot = await upload_snapshot(client.js, repo)
                    await drive(
                        client,
                        name="warm-up",
                        run_id="mem-warmup",
                        tasks=1,
                        in_flight=1,
                        payload=lambda _: GenerateTests(source=snapshot, targets=[targets[0]]),
                    )
                    loaded = await settled(pid, 2.0)
                    results = [
                        (level, *await run_level(client, pid, snapshot, targets, level, f"mem-{level}"))
                        for level in levels
                    ]
                    small = await run_level(client, pid, snapshot, targets, 1, "mem-snapshot-small")
                    large_snapshot = await upload_snapshot(client.js, large_repo, limits=large_limits)
                    large = await run_level(client, pid, large_snapshot, targets, 1, "mem-snapshot-large")
        finally:
            await nc.close()
    out += [
        "| state | RSS generator | + children (PSS) | x goal |",
        "|---|---|---|---|",
        f"| idle, after start-up | {idle[0]:.0f} | {idle[1]:.0f} | {idle[0] / IDLE_GOAL_MB:.2f} |",
        f"| agent SDK loaded, nothing in flight | {loaded[0]:.0f} | {loaded[1]:.0f} | |",
        "",
        "| tasks submitted | most running at once | RSS before | peak RSS | added per task | added per task "
        "with children | x goal (generator / with children) |",
        "|---|---|---|---|---|---|---|",
    ]
    failed = 0
    for level, before, peak, seen, bad in results:
        per_task = (peak[0] - before[0]) / level
        per_task_tree = (peak[1] - before[1]) / level
        failed += bad
        out.append(
            f"| {level} | {seen} | {before[0]:.0f} | {peak[0]:.0f} | {per_task:.1f} | {per_task_tree:.1f} | "
            f"{per_task / PER_TASK_GOAL_MB:.2f} / {per_task_tree / PER_TASK_GOAL_MB:.2f} |"
        )
    small_added = small[1][0] - small[0][0]
    out += [
        "",
        "| snapshot | size (MiB) | RSS before | peak RSS | added | added by the large snapshot | x goal |",
        "|---|---|---|---|---|---|---|",
        f"| sample project | {snapshot.size_bytes / MIB:.2f} | {small[0][0]:.0f} | {small[1][0]:.0f} | "
        f"{small_added:.1f} | | |",
    ]
    large_added = large[1][0] - large[0][0]
    share = large_added - small_added
    goal = SNAPSHOT_GOAL_MB * large_snapshot.size_bytes / (100 * MIB)
    out.append(
        f"| sample project + data files | {large_snapshot.size_bytes / MIB:.1f} | {large[0][0]:.0f} | "
        f"{large[1][0]:.0f} | {large_added:.1f} | {share:.1f} | {share / goal:.2f} |"
    )
    failed += small[3] + large[3]
    if failed:
        out.append(f"\n**{failed} task(s) did not succeed.**")
    return "\n".join(out)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,2,4", help="tasks in flight per step (default 1,2,4)")
    parser.add_argument("--turn-s", type=float, default=1.0, help="seconds each scripted model reply is held back")
    parser.add_argument("--snapshot-mib", type=int, default=100, help="size of the large snapshot (default 100)")
    args = parser.parse_args()
    quiet_logs()
    levels = [int(n) for n in args.levels.split(",") if n.strip()]
    print(asyncio.run(main(levels, args.turn_s, args.snapshot_mib)))


if __name__ == "__main__":
    cli()
