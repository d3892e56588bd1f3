"""Workflow: the spec-to-production pipeline in both modes, measured, next to the critical-path prediction.

    python -m benchmarks.workflow [--modules 8] [--slots 4] [--scale 100]
                                  [--testing-s 60] [--generation-s 110] [--refactoring-s 120] [--deploy-s 30]

Stages (the seed pipeline's): testing -> test-generation (one task per module) -> refactoring -> deploy (needs
the generated tests). Durations, in seconds at full scale: testing 60, test generation 110 per module,
refactoring 120, deploy 30; every duration is divided by ``scale`` (1:100 by default). Work stages are ``call``
stages that sleep (``benchmarks/stages.py``); each test-generation task is a BENCHMARK STAND-IN: a ``Sleep`` of
the scaled generation time, submitted through the real client (``ClientBackend(client, payload_factory=...)``)
to real ``handoff generator`` processes (two, sharing ``slots`` slots; global cap ``slots``) with a real
``handoff collector``, on a real nats-server.

The prediction is ``handoff.workflow.prediction.predict_wall_s``: blocking = all stages + N x generation;
non-blocking = the critical path, ceil(N / K) waves of generation overlapping refactoring, then deploy. Both
modes run in the same process against the same services; the speed-up (blocking wall / non-blocking wall) is
compared with the predicted one.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import bench_topology, fresh_server, header, quiet_logs
from benchmarks.services import as_processes, prepare
from handoff.client import HandoffClient
from handoff.client.settings import ClientSettings
from handoff.common.settings import NatsSettings
from handoff.schemas.events import Sleep, TaskPayload
from handoff.workflow.backend import ClientBackend
from handoff.workflow.config import Mode, WorkflowFile, parse_workflow
from handoff.workflow.prediction import predict_wall_s
from handoff.workflow.report import WorkflowReport
from handoff.workflow.runner import WorkflowRunner

SPEED_UP_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class Durations:
    testing_s: float
    generation_s: float
    refactoring_s: float
    deploy_s: float

    def scaled(self, scale: float) -> Durations:
        return Durations(
            self.testing_s / scale, self.generation_s / scale, self.refactoring_s / scale, self.deploy_s / scale
        )


def workflow_file(d: Durations) -> WorkflowFile:
    return parse_workflow(f"""
[workflow]
name = "spec-to-production (benchmark)"
component = "pkg"
apply_patches = false
join_timeout_s = 600
task_timeout_s = 600

[[stages]]
name = "testing"
call = "benchmarks.stages:work"
args = {{ seconds = {d.testing_s} }}

[[stages]]
name = "test-generation"
kind = "generate_tests"

[[stages]]
name = "refactoring"
call = "benchmarks.stages:work"
args = {{ seconds = {d.refactoring_s} }}

[[stages]]
name = "deploy"
call = "benchmarks.stages:work"
args = {{ seconds = {d.deploy_s} }}
needs_generated_tests = true
""")


def make_repo(root: Path, modules: int) -> Path:
    (root / "pkg").mkdir(parents=True)
    for i in range(modules):
        (root / "pkg" / f"m{i}.py").write_text(f"VALUE = {i}\n")
    return root


def predicted(workflow: WorkflowFile, d: Durations, *, modules: int, slots: int, mode: Mode) -> float:
    durations = {"testing": d.testing_s, "refactoring": d.refactoring_s, "deploy": d.deploy_s}
    return predict_wall_s(
        workflow.stages, durations, modules=modules, generation_s=d.generation_s, slots=slots, mode=mode
    )


async def run_mode(
    client: HandoffClient, repo: Path, workflow: WorkflowFile, d: Durations, mode: Mode
) -> WorkflowReport:
    def stand_in(_target: str) -> TaskPayload:
        return Sleep(duration_s=d.generation_s)  # benchmark stand-in for an agent's test generation

    runner = WorkflowRunner(
        backend=ClientBackend(client, payload_factory=stand_in), repo=repo, workflow=workflow, mode=mode
    )
    return await runner.run()


async def main(modules: int, slots: int, scale: float, full: Durations) -> str:
    d = full.scaled(scale)
    workflow = workflow_file(d)
    out = [
        header(
            "Workflow",
            f"spec-to-production, N = {modules} modules, K = {slots} slots (2 generator processes), scale 1:{scale:g}. "
            f"Full-scale stage durations: testing {full.testing_s:g} s, test generation {full.generation_s:g} s per "
            f"module, refactoring {full.refactoring_s:g} s, deploy {full.deploy_s:g} s (needs the generated tests). "
            "Test generation is a Sleep stand-in through the real client, generators and collector.",
        )
    ]
    reports: dict[Mode, WorkflowReport] = {}
    with tempfile.TemporaryDirectory(prefix="handoff-bench-wf-") as tmp, fresh_server() as server:
        repo = make_repo(Path(tmp) / "repo", modules)
        topology = bench_topology(max_in_flight=slots)
        nc = await prepare(server.url, topology)
        client = HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(url=server.url)))
        try:
            per_replica = slots // 2
            async with as_processes(server.url, topology, generators=2, slots=max(per_replica, 1)):
                for mode in (Mode.BLOCKING, Mode.NON_BLOCKING):
                    reports[mode] = await run_mode(client, repo, workflow, d, mode)
        finally:
            await nc.close()
    out += [
        "| mode | measured wall s | predicted s | measured / predicted | scaled back to full size |",
        "|---|---|---|---|---|",
    ]
    for mode, report in reports.items():
        p = predicted(workflow, d, modules=modules, slots=slots, mode=mode)
        out.append(
            f"| {mode} | {report.wall_s:.3f} | {p:.3f} | {report.wall_s / p:.3f} | "
            f"{report.wall_s * scale:.0f} s (predicted {p * scale:.0f} s) |"
        )
    blocking, non_blocking = reports[Mode.BLOCKING], reports[Mode.NON_BLOCKING]
    measured_speed_up = blocking.wall_s / non_blocking.wall_s
    predicted_speed_up = predicted(workflow, d, modules=modules, slots=slots, mode=Mode.BLOCKING) / predicted(
        workflow, d, modules=modules, slots=slots, mode=Mode.NON_BLOCKING
    )
    deviation = measured_speed_up / predicted_speed_up - 1
    verdict = "within" if abs(deviation) <= SPEED_UP_TOLERANCE else "NOT within"
    out.append(
        f"\nspeed-up of non-blocking over blocking: measured {measured_speed_up:.3f}x, predicted "
        f"{predicted_speed_up:.3f}x ({deviation:+.1%}, {verdict} {SPEED_UP_TOLERANCE:.0%} of the prediction)"
    )
    failed = [g for r in reports.values() for g in r.generation if g.status != "succeeded"]
    if failed or not all(r.ok for r in reports.values()):
        out.append(f"\n**not every stage or task succeeded: {len(failed)} generation task(s) failed**")
    out.append("\n```\n" + "\n\n".join(r.timeline() for r in reports.values()) + "\n```")
    return "\n".join(out)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", type=int, default=8)
    parser.add_argument("--slots", type=int, default=4, help="slots in total, split over two generator processes")
    parser.add_argument("--scale", type=float, default=100.0, help="divide every duration by this")
    parser.add_argument("--testing-s", type=float, default=60.0)
    parser.add_argument("--generation-s", type=float, default=110.0)
    parser.add_argument("--refactoring-s", type=float, default=120.0)
    parser.add_argument("--deploy-s", type=float, default=30.0)
    args = parser.parse_args()
    quiet_logs()
    full = Durations(args.testing_s, args.generation_s, args.refactoring_s, args.deploy_s)
    print(asyncio.run(main(args.modules, args.slots, args.scale, full)))


if __name__ == "__main__":
    cli()
