"""``handoff result``: a task's final result; ``--patch`` prints the generated diff, ``--apply DIR`` applies it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from schemas.events import GenerateTests, SleepResult, TaskFinished, TaskStatus, TestGenerationResult
from services.cli.common import open_client, print_json, task_id_arg
from services.cli.errors import CliError
from services.cli.escape import printable
from services.cli.exit_codes import Exit
from services.client.client import HandoffClient
from services.client.patch_check import PatchPolicy
from services.client.patches import PatchNotApplied, PatchRefused, apply_patch


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("result", help="show a task's result; --patch prints its diff, --apply DIR applies it")
    p.add_argument("task_id", type=task_id_arg)
    p.add_argument("--wait-s", type=float, default=0.0, help="wait this long for the task to finish (exit 3 if not)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--patch", action="store_true", help="print the patch (git apply-able) on stdout")
    out.add_argument(
        "--apply", type=Path, metavar="DIR",
        help="check the patch, apply it to this work tree (DIR is the tree's root) and verify the files are there",
    )  # fmt: skip
    p.add_argument(
        "--allow-source",
        action="store_true",
        help="with --apply: also apply changes outside the test folder (never .git*, links, modes, copies, renames)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


async def _policy(client: HandoffClient, args: argparse.Namespace) -> PatchPolicy:
    """The test folder the task was given (from its submit), and whether source changes are allowed."""
    submitted = await client.lookups.submitted_in_stream(args.task_id)
    payload = submitted.payload if submitted is not None else None
    test_dir = payload.test_dir if isinstance(payload, GenerateTests) else PatchPolicy().test_dir
    return PatchPolicy(test_dir=test_dir, allow_source=args.allow_source)


def summarize(finished: TaskFinished) -> list[str]:
    lines = [f"task {finished.task_id}: {finished.status} (attempt {finished.attempt}, {finished.replica_id})"]
    t = finished.timings
    if t.total_s is not None:
        lines.append(f"  queue wait {t.queue_wait_s or 0:.1f} s, run {t.run_s or 0:.1f} s, total {t.total_s:.1f} s")
    if finished.error:
        lines.append(f"  error {finished.error.code}: {printable(finished.error.message)}")
        if finished.error.detail:
            lines += ["  " + printable(line) for line in finished.error.detail.splitlines()[-15:]]
    result = finished.result
    if isinstance(result, TestGenerationResult):
        lines.append(f"  {printable(result.summary)}" if result.summary else "  (no summary)")
        lines.append(
            f"  tests: {result.tests_passed} passed, {result.tests_failed} failed of {result.tests_collected}; "
            f"rounds {result.rounds_used}; files produced: {'yes' if result.files_produced else 'NO'}"
        )
        for cov in result.coverage:
            lines.append(f"  coverage {cov.target}: {cov.percent:.0f} % (goal {result.coverage_goal_pct:.0f} %)")
        for path in result.test_files:
            lines.append(f"  test file {path}")
        for refused in result.refused[:20]:
            lines.append(f"  left out of the patch: {refused.path} ({refused.reason})")
        if result.patch:
            lines.append(f"  patch: {result.patch.size_bytes} bytes (handoff result {finished.task_id} --patch)")
        u = result.usage
        lines.append(f"  llm {u.model}: {u.prompt_tokens}+{u.completion_tokens} tokens, ${u.cost_usd:.4f}")
    elif isinstance(result, SleepResult):
        lines.append(f"  slept {result.slept_s:.2f} s")
    return lines


async def run(args: argparse.Namespace) -> int:
    async with open_client() as client:
        finished: TaskFinished | None
        if args.wait_s > 0:
            finished = await client.result(args.task_id, timeout=args.wait_s)
        else:
            finished = await client.lookups.final(args.task_id)
            if finished is None:
                record = await client.status(args.task_id)
                raise CliError(Exit.TIMEOUT, f"task {args.task_id} has not finished yet ({record.state})")
        patch = await client.fetch_patch(finished) if (args.patch or args.apply) else None
        policy = await _policy(client, args) if args.apply else None
    if args.patch or args.apply:
        if patch is None:
            raise CliError(Exit.NOT_FOUND, f"task {args.task_id} produced no patch ({finished.status})")
        if args.patch:
            sys.stdout.buffer.write(patch)
            sys.stdout.flush()
        else:
            try:
                applied = await apply_patch(args.apply, patch, policy=policy)
            except PatchRefused as exc:
                refused = "\n".join(f"  refused: {printable(line)}" for line in exc.refusals)
                raise CliError(Exit.TASK_FAILED, f"the patch of {args.task_id} was not applied:\n{refused}") from exc
            except PatchNotApplied as exc:
                raise CliError(Exit.TASK_FAILED, printable(str(exc))) from exc
            print(f"applied the patch of {args.task_id} to {args.apply}: {len(applied.changes)} file(s)")
            for change in applied.changes:
                print(f"  {change.kind:<6} {printable(change.path)}")
        return Exit.OK
    if args.json:
        print_json(finished)
    else:
        print("\n".join(summarize(finished)))
    return Exit.OK if finished.status == TaskStatus.SUCCEEDED else Exit.TASK_FAILED
