"""``handoff demo``: the README's main command - the whole path, end to end, on a shipped sample project and a
real-world module."""

from __future__ import annotations

import argparse
from pathlib import Path

from handoff.cli.exit_codes import Exit
from handoff.common.logging import configure_logging
from handoff.common.settings import LogSettings
from handoff.demo.real_world import REAL_WORLD_PACKAGE
from handoff.demo.run import DemoOptions, default_workdir, run_demo

HELP = (
    "start the stack and generate validated tests for a shipped sample project and a real-world module "
    f"({REAL_WORLD_PACKAGE}, from the package index: the demo extra installs it)"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP)
    p.add_argument("--generators", type=int, default=2, help="generator replicas to start (default 2)")
    p.add_argument("--timeout-s", type=float, default=300.0, help="give up after this long (default 300)")
    p.add_argument("--workdir", type=Path, help="where the copies of both projects go (default: under the data dir)")
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    configure_logging(LogSettings.from_env() if _log_env_set() else LogSettings(level="warning"))
    options = DemoOptions(
        workdir=args.workdir or default_workdir(), generators=args.generators, timeout_s=args.timeout_s
    )
    code = await run_demo(options)
    return Exit.OK if code == 0 else Exit.TASK_FAILED


def _log_env_set() -> bool:
    import os

    return bool(os.environ.get("HANDOFF_LOG_LEVEL"))
