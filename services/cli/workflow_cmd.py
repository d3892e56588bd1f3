"""``handoff workflow run``: the spec-to-production pipeline of a repo (``handoff-workflow.toml``), with test
generation fanned out to Handoff, in blocking or non-blocking mode; prints a stage timeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from handoff.cli.common import open_client, print_json
from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit
from handoff.workflow.backend import ClientBackend
from handoff.workflow.config import Mode, WorkflowConfigError, load_workflow
from handoff.workflow.report import StageRecord
from handoff.workflow.runner import WorkflowRunner


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("workflow", help="run a repo's spec-to-production workflow (handoff-workflow.toml)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = actions.add_parser("run", help="run the stages; test generation goes to Handoff")
    r.add_argument("--repo", type=Path, default=Path("."), help="the project (default: current directory)")
    r.add_argument("--file", type=Path, help="the workflow file (default: REPO/handoff-workflow.toml)")
    r.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        default=Mode.NON_BLOCKING.value,
        help="non-blocking: generation overlaps the later stages (default); blocking: it runs first",
    )
    r.add_argument("--run-id", help="the run id of the generation tasks (default: a new one)")
    r.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    repo = args.repo.resolve()
    try:
        workflow = load_workflow(repo, args.file)
    except WorkflowConfigError as exc:
        raise CliError(Exit.USAGE, str(exc)) from exc

    def on_stage(record: StageRecord) -> None:
        if not args.json:
            mark = "ok" if record.ok else "FAILED"
            print(f"  {record.name:<18} {mark:<6} {record.duration_s:7.2f} s  {record.detail}", flush=True)

    async with open_client() as client:
        runner = WorkflowRunner(
            backend=ClientBackend(client),
            repo=repo,
            workflow=workflow,
            mode=Mode(args.mode),
            run_id=args.run_id,
            on_stage=on_stage,
        )
        if not args.json:
            print(f"workflow {workflow.workflow.name} ({args.mode}) in {repo}, run {runner.run_id}", flush=True)
        try:
            report = await runner.run()
        except WorkflowConfigError as exc:
            raise CliError(Exit.USAGE, str(exc)) from exc
    if args.json:
        print_json(report)
    else:
        print()
        print(report.timeline())
    return Exit.OK if report.ok else Exit.TASK_FAILED
