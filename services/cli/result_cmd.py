"""``handoff result``: a task's final result; ``--patch`` prints the generated diff, ``--apply DIR`` applies it."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from nats.js.errors import NotFoundError

from handoff.cli import quality
from handoff.cli.common import open_client, print_json, task_id_arg
from handoff.cli.errors import CliError
from handoff.cli.escape import printable
from handoff.cli.exit_codes import Exit
from handoff.client.client import HandoffClient
from handoff.client.errors import ArtifactUnavailableError
from handoff.client.patch_check import PatchPolicy
from handoff.client.patches import PatchAlreadyApplied, PatchNotApplied, PatchRefused, apply_patch
from handoff.common.text import clipped
from handoff.schemas.events import GenerateTests, SleepResult, TaskFinished, TaskStatus, TestGenerationResult

OFFLINE_PREFIX = "[offline engine"  # how the offline engine's summaries start (RunnerSettings.label)
SHOWN = 20  # dropped tests and refused changes listed in the text view; --json has them all
NOTHING_ADDED = "nothing added: the project's existing tests already meet the coverage goal"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("result", help="show a task's result; --patch prints its diff, --apply DIR applies it")
    p.add_argument("task_id", type=task_id_arg, help="the task id (submit and wait print it)")
    p.add_argument("--wait-s", type=float, default=0.0, help="wait this long for the task to finish (exit 3 if not)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--patch", action="store_true", help="print the patch (git apply-able) on stdout")
    out.add_argument(
        "--written", action="store_true",
        help="print the last round's tests as the generator wrote them, before they were judged (the dropped ones "
        "too; not validated: to read, not to apply)",
    )  # fmt: skip
    out.add_argument(
        "--apply", type=Path, metavar="DIR",
        help="check the patch, apply it to this work tree (DIR is the tree's root) and verify the files are there",
    )  # fmt: skip
    p.add_argument(
        "--allow-source",
        action="store_true",
        help="with --apply: also apply changes outside the test folder (never .git*, links, modes, copies, renames)",
    )
    p.add_argument("--json", action="store_true", help="the TaskFinished event as JSON")
    p.set_defaults(handler=run)


async def _policy(client: HandoffClient, args: argparse.Namespace) -> PatchPolicy:
    """The test folder the task was given (from its submit), and whether source changes are allowed."""
    submitted = await client.lookups.submitted_in_stream(args.task_id)
    payload = submitted.payload if submitted is not None else None
    test_dir = payload.test_dir if isinstance(payload, GenerateTests) else PatchPolicy().test_dir
    return PatchPolicy(test_dir=test_dir, allow_source=args.allow_source)


DETAIL_HEAD_LINES = 6  # a failure's detail: its opening lines say what it lists...
DETAIL_TAIL_LINES = 8  # ...and its last ones end a traceback or count what was left out


def detail_lines(detail: str, task_id: str) -> list[str]:
    """A failure's detail as printed: whole up to 15 lines, else its head and its tail around a line saying how
    many lines are not shown and where they all are."""
    lines = detail.splitlines()
    if len(lines) <= DETAIL_HEAD_LINES + DETAIL_TAIL_LINES + 1:
        return lines
    hidden = len(lines) - DETAIL_HEAD_LINES - DETAIL_TAIL_LINES
    cut = f"… {hidden} more line(s) of this detail, all in: handoff result {task_id} --json"
    return [*lines[:DETAIL_HEAD_LINES], cut, *lines[-DETAIL_TAIL_LINES:]]


def summarize(finished: TaskFinished) -> list[str]:
    lines = [f"task {finished.task_id}: {finished.status} (attempt {finished.attempt}, {finished.replica_id})"]
    t = finished.timings
    if t.total_s is not None:
        lines.append(f"  queue wait {t.queue_wait_s or 0:.1f} s, run {t.run_s or 0:.1f} s, total {t.total_s:.1f} s")
    if finished.error:
        lines.append(f"  error {finished.error.code}: {printable(finished.error.message)}")
        shown = ["  " + printable(line) for line in detail_lines(finished.error.detail, finished.task_id)]
        lines += shown
        command = f"handoff result {finished.task_id} --patch"
        if last_round_ref(finished) is not None and not any(command in line for line in shown):
            lines.append(f"  the last round's patch (not validated): {command}")
    result = finished.result
    if isinstance(result, TestGenerationResult):
        lines.append(f"  {printable(result.summary)}" if result.summary else "  (no summary)")
        if quality.existing_tests_suffice(result):
            lines.append(f"  {NOTHING_ADDED}; no patch")
        produced = "yes" if result.files_produced else "none needed" if quality.existing_tests_suffice(result) else "NO"
        lines.append(
            f"  tests: {result.tests_passed} passed, {result.tests_failed} failed of {result.tests_collected}; "
            f"rounds {result.rounds_used}; files produced: {produced}"
        )
        for cov in result.coverage if result.tests_kept else []:  # with nothing kept there is no such figure
            rescued = len(result.tests_rescued)
            before = f" (before the {rescued} re-admitted for mutants)" if rescued else ""
            lines.append(f"  coverage {cov.target} by the kept tests alone{before}: line {quality.pct(cov.percent)} %")
        if result.baseline_problem:
            lines.append(f"  {quality.baseline_label(result)}: {printable(result.baseline_problem)}")
            if hint := quality.baseline_hint(result):
                lines.append(f"  {printable(hint)}")
        lines += [f"  quality {printable(line)}" for line in quality.target_lines(result)]
        if result.quality or result.coverage:
            lines.append(f"  {quality.goal_words(result)}; tests kept {len(result.tests_kept)}, "
                         f"dropped {len(result.tests_dropped)}")  # fmt: skip
        for dropped in result.tests_dropped[:SHOWN]:
            lines.append(
                f"  dropped {printable(dropped.test)} ({dropped.verdict}): {printable(clipped(dropped.reason, 160))}"
            )
        lines += _more(len(result.tests_dropped), "dropped test(s)", finished.task_id)
        if result.tests_dropped and result.written_patch is not None:
            lines.append(f"  the tests as written, dropped ones too: handoff result {finished.task_id} --written")
        for path in result.test_files:
            lines.append(f"  test file {path}")
        for refused in result.refused[:SHOWN]:
            lines.append(f"  left out of the patch: {refused.path} ({refused.reason})")
        lines += _more(len(result.refused), "change(s) left out", finished.task_id)
        if result.patch:
            lines.append(f"  patch: {result.patch.size_bytes} bytes (handoff result {finished.task_id} --patch)")
        lines.append(_writer_line(result))
    elif isinstance(result, SleepResult):
        lines.append(f"  slept {result.slept_s:.2f} s")
    return lines


def _more(count: int, what: str, task_id: str) -> list[str]:
    """The line saying how many of a list were not shown, and where to see them all; none when all were."""
    if count <= SHOWN:
        return []
    return [f"  … and {count - SHOWN} more {what} (handoff result {task_id} --json lists them)"]


# the line of a validation failure's detail that names its last round's stored patch (runners/openhands/
# task_result.py writes it; results finished before the words "(not validated)" were added have the shorter form)
_LAST_ROUND = re.compile(r"^patch of the last round(?: \(not validated\))?: ([A-Za-z0-9_-]+)/(\S+)$", re.MULTILINE)


def last_round_ref(finished: TaskFinished) -> tuple[str, str] | None:
    """(bucket, object name) of the patch a failed task's last round left, as its error detail names it."""
    found = _LAST_ROUND.search(finished.error.detail) if finished.error else None
    return (found.group(1), found.group(2)) if found else None


async def last_round_patch(client: HandoffClient, ref: tuple[str, str]) -> bytes | None:
    """That patch's bytes, or None when it is no longer stored."""
    bucket, name = ref
    try:
        store = await client.js.object_store(bucket)
        return (await store.get(name)).data or None
    except NotFoundError:  # the bucket or the object expired
        return None


def _unvalidated(finished: TaskFinished, ref: tuple[str, str], patch: bytes | None, *, apply: bool) -> int:
    """A failed task's last-round patch: printed (``--patch``) with a note on stderr, never applied; exit 1 as for
    any failed task, so a script never takes it for a validated patch."""
    task_id, code = finished.task_id, finished.error.code if finished.error else finished.status
    failed = f"task {task_id} {finished.status} ({code})"
    if apply:
        raise CliError(Exit.TASK_FAILED, f"{failed}: its last round's patch did not pass validation and is not "
                                         f"applied; 'handoff result {task_id} --patch' prints it")  # fmt: skip
    if patch is None:
        raise CliError(Exit.TASK_FAILED, f"{failed}: its last round's patch ({'/'.join(ref)}) is no longer stored "
                                         "(artifacts expire after HANDOFF_ARTIFACT_TTL_S)")  # fmt: skip
    sys.stdout.buffer.write(patch)
    sys.stdout.flush()
    print(f"{failed}: this is the patch of its last round, which did NOT pass validation "
          f"(why: handoff result {task_id})", file=sys.stderr, flush=True)  # fmt: skip
    return Exit.TASK_FAILED


async def _print_written(client: HandoffClient, finished: TaskFinished) -> int:
    """``--written``: the stored patch of the last round as written, or why there is none (exit 1)."""
    generated = quality.generation_result(finished)
    ref = generated.written_patch if generated is not None else None
    if ref is None:
        raise CliError(Exit.TASK_FAILED, f"task {finished.task_id} has no tests as written stored (a task that wrote "
                                         "none, or finished before they were kept; a failed task's last round: "
                                         "--patch)")  # fmt: skip
    try:
        data = await client.fetch_artifact(ref)
    except ArtifactUnavailableError as exc:
        gone = f"task {finished.task_id}: the tests as written are no longer stored (artifacts expire after "
        raise CliError(Exit.TASK_FAILED, f"{gone}HANDOFF_ARTIFACT_TTL_S): {exc}") from exc
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    print(f"task {finished.task_id}: the last round's tests as written, before they were judged (not validated; "
          f"what is handed over: handoff result {finished.task_id} --patch)", file=sys.stderr, flush=True)  # fmt: skip
    return Exit.OK


def _writer_line(result: TestGenerationResult) -> str:
    """Who wrote the tests: the offline engine (named as such, it is no model) or a model with its usage."""
    if result.summary.startswith(OFFLINE_PREFIX):
        return "  written by the " + result.summary[1:].partition("]")[0] + " (no tokens, no cost)"
    u = result.usage
    return f"  llm {u.model}: {u.prompt_tokens}+{u.completion_tokens} tokens, ${u.cost_usd:.4f}"


async def run(args: argparse.Namespace) -> int:
    if args.apply is not None and not args.apply.is_dir():
        raise CliError(Exit.USAGE, f"--apply {args.apply}: no such folder (give the work tree to apply the patch to)")
    async with open_client() as client:
        finished: TaskFinished | None
        if args.wait_s > 0:
            finished = await client.result(args.task_id, timeout=args.wait_s)
        else:
            finished = await client.lookups.final(args.task_id)
            if finished is None:
                record = await client.status(args.task_id)
                raise CliError(Exit.TIMEOUT, f"task {args.task_id} has not finished yet ({record.state})")
        if args.written:
            return await _print_written(client, finished)
        patch = None
        last_round = last_round_ref(finished)
        if args.patch or args.apply:
            patch = await client.fetch_patch(finished)
            if patch is None and last_round is not None and args.patch:
                patch = await last_round_patch(client, last_round)
        policy = await _policy(client, args) if args.apply else None
    if last_round is not None and (args.patch or args.apply) and finished.status != TaskStatus.SUCCEEDED:
        return _unvalidated(finished, last_round, patch, apply=args.apply is not None)
    if args.patch or args.apply:
        generated = quality.generation_result(finished)
        if patch is None and generated is not None and quality.existing_tests_suffice(generated):
            print(f"task {args.task_id}: {NOTHING_ADDED}; there is no patch to {'apply' if args.apply else 'print'}",
                  file=sys.stderr)  # fmt: skip
            return Exit.OK
        if patch is None:  # the task is known (exit 5 is for unknown ids): it has no patch to give
            raise CliError(Exit.TASK_FAILED, f"task {args.task_id} produced no patch ({finished.status})")
        if args.patch:
            sys.stdout.buffer.write(patch)
            sys.stdout.flush()
        else:
            try:
                applied = await apply_patch(args.apply, patch, policy=policy)
            except PatchRefused as exc:
                refused = "\n".join(f"  refused: {printable(line)}" for line in exc.refusals)
                raise CliError(Exit.TASK_FAILED, f"the patch of {args.task_id} was not applied:\n{refused}") from exc
            except PatchAlreadyApplied as exc:
                print(f"task {args.task_id}: {printable(str(exc))}", file=sys.stderr)
                return Exit.OK
            except PatchNotApplied as exc:
                said = printable(str(exc), keep_newlines=True).replace("\n", "\n  ")
                raise CliError(Exit.TASK_FAILED, f"the patch of {args.task_id} was not applied: {said}") from exc
            print(f"applied the patch of {args.task_id} to {args.apply}: {len(applied.changes)} file(s)")
            for change in applied.changes:
                print(f"  {change.kind:<6} {printable(change.path)}")
        return Exit.OK
    if args.json:
        print_json(finished)
    else:
        print("\n".join(summarize(finished)))
    return Exit.OK if finished.status == TaskStatus.SUCCEEDED else Exit.TASK_FAILED
