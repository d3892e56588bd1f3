"""Entry point of the ``handoff`` console script: builds the parser from the command modules and runs one."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Sequence

# The agent SDK reads these at import time; a service must never pick up its interactive defaults.
os.environ.setdefault("LOG_AUTO_CONFIG", "false")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from services.cli.errors import CliError
from services.cli.exit_codes import Exit
from services.common.env import SettingsError
from services.sandbox.errors import SandboxUnavailable

# Each module exposes ``register(subparsers)``; the parser it adds sets ``handler`` (sync or async).
# The order is the order of ``handoff --help``: what a newcomer needs first, the services and plumbing last.
CORE_VERBS = ("up", "submit", "wait", "result")
COMMAND_MODULES = (
    "services.cli.up_cmd",
    "services.cli.submit_cmd",
    "services.cli.wait_cmd",
    "services.cli.result_cmd",
    "services.cli.watch_cmd",
    "services.cli.status_cmd",
    "services.cli.cancel_cmd",
    "services.cli.dlq_cmd",
    "services.cli.demo_cmd",
    "services.cli.workflow_cmd",
    "services.cli.topology_cmd",
    "services.cli.schemas_cmd",
    "services.cli.server_cmd",
    "services.cli.roundtrip_cmd",
    "services.cli.collector_cmd",
    "services.cli.generator_cmd",
)


def version() -> str:
    try:
        return importlib.metadata.version("handoff")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handoff",
        description="Take long-running agent work off a pipeline's critical path.",
        epilog="Settings come from HANDOFF_* environment variables; see README.md.",
    )
    parser.add_argument("--version", action="version", version=f"handoff {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = argparse.Namespace()
    try:
        args = parser.parse_args(argv)
        result = args.handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
    except SettingsError as exc:
        print(f"handoff: settings error: {exc}", file=sys.stderr)
        return Exit.USAGE
    except SandboxUnavailable as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return Exit.USAGE
    except CliError as exc:
        print(f"handoff: {exc.message}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        # the reader went away (``handoff ... | head``): no traceback, and no second error when Python flushes stdout
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.PIPE_CLOSED
    except KeyboardInterrupt:
        note = getattr(args, "interrupt_note", "")
        print(f"\nhandoff: interrupted{'; ' + note if note else ''}", file=sys.stderr, flush=True)
        return Exit.INTERRUPTED
    return int(result or Exit.OK)


if __name__ == "__main__":
    sys.exit(main())
