"""``handoff submit``: publish test-generation tasks (one per target module) and return at once."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import msgspec
from nats.js import JetStreamContext

from handoff.artifacts.errors import ArtifactError
from handoff.cli.common import open_client, print_json, run_id_arg
from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit
from handoff.cli.submit_checks import check_options, check_targets, repo_relative
from handoff.client.artifacts import module_payloads
from handoff.schemas.events import (
    MAX_ENV_VALUE,
    MAX_TEST_ENV,
    EnvVarName,
    EnvVarValue,
    PackageRequirement,
    PythonVersion,
    Sleep,
    TaskPayload,
    reserved_env_var,
)
from handoff.workflow.config import WorkflowConfigError, WorkflowSpec
from handoff.workflow.discovery import discover_targets


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("submit", help="submit test generation for modules of a repo (one task each); returns at once")
    p.add_argument("targets", nargs="*", help="modules to write tests for, relative to --repo")
    p.add_argument("--repo", type=Path, default=Path("."), help="the source tree (default: current directory)")
    p.add_argument(
        "--component",
        help="instead of targets: every non-test module under this folder or dotted module path (pkg.sub)",
    )
    p.add_argument(
        "--run-id",
        type=run_id_arg,
        help="group the tasks under this run id (default: a new one); makes retries idempotent",
    )
    p.add_argument(
        "--coverage-goal",
        type=float,
        default=80.0,
        metavar="PCT",
        help="coverage each module should reach, 0-100 (default 80): line+branch coverage together, by the project's "
        "existing tests and the kept generated ones",
    )
    p.add_argument(
        "--mutation-goal",
        type=float,
        metavar="PCT",
        help="mutation score each module's kept tests should reach, 0-100 (default: none; the score is still "
        "measured): under it, the agent gets one more round on the surviving mutants",
    )
    p.add_argument(
        "--test-dir",
        default="tests",
        help="where the tests go, relative to the repo (default tests: the project's own test folder, tests/ or "
        "test/ or the one inside its package; tests/ if it has none)",
    )
    p.add_argument("--instructions", default="", help="extra instructions for the agent")
    p.add_argument(
        "--python", metavar="X.Y", help="Python version of the project's environment (default: the generator's)"
    )
    p.add_argument(
        "--extra-package",
        action="append",
        default=[],
        metavar="REQ",
        dest="extra_packages",
        help="also install this package into the project's environment (repeatable), e.g. 'hypothesis>=6'",
    )
    p.add_argument(
        "--test-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="test_env",
        help="an environment variable the project's tests need (repeatable), set in every test run of the task and "
        "in the agent's commands, e.g. WCWIDTH_PYTHON=1; not secret (stored and shown with the task)",
    )
    p.add_argument("--timeout-s", type=float, help="deadline of each task, from now")
    p.add_argument("--max-attempts", type=int, default=3, help="runs a task gets when it fails transiently (default 3)")
    p.add_argument("--sleep-s", type=float, help="diagnostics: submit Sleep tasks of this length instead (no agent)")
    p.add_argument("--count", type=int, default=1, help="with --sleep-s: how many tasks")
    p.add_argument("--json", action="store_true", help="print the run id and task ids as JSON")
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    run_id = args.run_id or f"run-{uuid.uuid4().hex[:12]}"
    check_options(args)
    if args.sleep_s is None:
        _check_environment_options(args)  # before connecting or uploading anything
    planned_targets = None if args.sleep_s is not None else _plan_targets(args)  # checked before connecting
    async with open_client() as client:
        planned: list[tuple[str, TaskPayload]]
        if planned_targets is None:
            planned = [(f"sleep-{i}", Sleep(duration_s=args.sleep_s)) for i in range(args.count)]
        else:
            planned = await _test_generation_payloads(client.js, args, *planned_targets)
        submitted = []
        for index, (target, payload) in enumerate(planned):
            task_id = await client.submit(
                payload,
                task_id=f"{run_id}-{index:04d}",  # deterministic: re-running the same submit is de-duplicated
                run_id=run_id,
                run_size=len(planned),
                timeout_s=args.timeout_s,
                max_attempts=args.max_attempts,
            )
            submitted.append({"task_id": task_id, "target": target})
    if args.json:
        print_json({"run_id": run_id, "tasks": submitted})
    else:
        print(f"submitted {len(submitted)} task(s) in run {run_id}")
        for item in submitted:
            print(f"  {item['task_id']}  {item['target']}")
        print(f"follow with: handoff wait --run-id {run_id}")
    return Exit.OK


def _plan_targets(args: argparse.Namespace) -> tuple[Path, list[str]]:
    repo: Path = args.repo.resolve()
    if not repo.is_dir():
        raise CliError(Exit.USAGE, f"--repo {args.repo} is not a folder")
    if not args.targets and not args.component:
        raise CliError(Exit.USAGE, "name target modules, or --component FOLDER to test every module in it")
    try:
        targets = discover_targets(
            repo, WorkflowSpec(targets=repo_relative(args.repo, args.targets), component=args.component)
        )
    except WorkflowConfigError as exc:
        raise CliError(Exit.USAGE, str(exc)) from exc
    check_targets(repo, targets)
    return repo, targets


def _check_environment_options(args: argparse.Namespace) -> None:
    """--python, --extra-package and --test-env are checked before anything is uploaded."""
    try:
        if args.python is not None:
            msgspec.convert(args.python, type=PythonVersion)
        msgspec.convert(args.extra_packages, type=list[PackageRequirement])
    except msgspec.ValidationError as exc:
        raise CliError(Exit.USAGE, f"--python X.Y / --extra-package NAME[SPEC]: {exc}") from exc
    args.test_env = parse_test_env(args.test_env)


def parse_test_env(items: list[str]) -> dict[str, str]:
    """The ``--test-env NAME=VALUE`` options as a mapping; a CliError names the one that is wrong and why."""
    env: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(Exit.USAGE, f"--test-env {item!r}: expected NAME=VALUE")
        if name in env:
            raise CliError(Exit.USAGE, f"--test-env {name} is given twice")
        try:
            msgspec.convert(name, type=EnvVarName)
        except msgspec.ValidationError as exc:
            raise CliError(Exit.USAGE, f"--test-env {name[:40]!r}: a name is letters, digits and '_' (at most 128), "
                                       "not starting with a digit") from exc  # fmt: skip
        try:
            msgspec.convert(value, type=EnvVarValue)
        except msgspec.ValidationError as exc:
            raise CliError(Exit.USAGE, f"--test-env {name}: the value is longer than {MAX_ENV_VALUE} characters "
                                       "or holds a NUL") from exc  # fmt: skip
        if problem := reserved_env_var(name):
            raise CliError(Exit.USAGE, f"--test-env {problem}")
        env[name] = value
    if len(env) > MAX_TEST_ENV:
        raise CliError(Exit.USAGE, f"--test-env: at most {MAX_TEST_ENV} variables, {len(env)} given")
    return env


async def _test_generation_payloads(
    js: JetStreamContext, args: argparse.Namespace, repo: Path, targets: list[str]
) -> list[tuple[str, TaskPayload]]:
    try:
        planned = await module_payloads(
            js, repo, targets, coverage_goal_pct=args.coverage_goal, mutation_goal_pct=args.mutation_goal,
            test_dir=args.test_dir,
            instructions=args.instructions, python=args.python, extra_packages=args.extra_packages,
            test_env=args.test_env,
        )  # fmt: skip
    except ArtifactError as exc:
        raise CliError(Exit.USAGE, f"cannot snapshot {repo}: {exc}") from exc
    if planned.skipped_links:
        _report_skipped_links(planned.skipped_links)
    return list(zip(targets, planned.payloads, strict=True))


def _report_skipped_links(links: tuple[str, ...]) -> None:
    """Snapshots hold no symbolic links: say on stderr which ones the tasks will not see."""
    shown = ", ".join(links[:10]) + (f" and {len(links) - 10} more" if len(links) > 10 else "")
    print(
        f"handoff: skipped {len(links)} symbolic link(s) (snapshots hold regular files only): {shown}",
        file=sys.stderr,
    )
