"""Entry point of the ``handoff`` console script: builds the parser from the command modules and runs one."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import os
import re
import sys
from collections.abc import Sequence

# The agent SDK reads these at import time; a service must never pick up its interactive defaults.
os.environ.setdefault("LOG_AUTO_CONFIG", "false")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit
from handoff.cli.service_signals import catch_early
from handoff.common.env import SettingsError
from handoff.sandbox.errors import SandboxUnavailable

# Each module exposes ``register(subparsers)``; the parser it adds sets ``handler`` (sync or async).
# The order is the order of ``handoff --help``: what a newcomer needs first, the services and plumbing last.
CORE_VERBS = ("up", "submit", "wait", "result")
COMMAND_MODULES = (
    "handoff.cli.up_cmd",
    "handoff.cli.submit_cmd",
    "handoff.cli.wait_cmd",
    "handoff.cli.result_cmd",
    "handoff.cli.watch_cmd",
    "handoff.cli.status_cmd",
    "handoff.cli.cancel_cmd",
    "handoff.cli.dlq_cmd",
    "handoff.cli.demo_cmd",
    "handoff.cli.workflow_cmd",
    "handoff.cli.topology_cmd",
    "handoff.cli.schemas_cmd",
    "handoff.cli.server_cmd",
    "handoff.cli.roundtrip_cmd",
    "handoff.cli.collector_cmd",
    "handoff.cli.generator_cmd",
)


def missing_generator_extra() -> list[str]:
    """The distributions of the ``generator`` extra that are not installed (empty from a source tree)."""
    try:
        requirements = importlib.metadata.requires("handoff") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    missing = []
    for requirement in requirements:
        if "extra" not in requirement or not re.search(r"""extra\s*==\s*["']generator["']""", requirement):
            continue
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        if name is None:
            continue
        try:
            importlib.metadata.distribution(name.group(0))
        except importlib.metadata.PackageNotFoundError:
            missing.append(name.group(0))
    return missing


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The message for a verb that needs the ``generator`` extra, or None when ``exc`` is about something else."""
    missing = missing_generator_extra()
    if not missing:
        return None
    return (
        f"this command runs Handoff's services and needs the generator extra, which is not installed "
        f"(no module {exc.name!r}; missing {', '.join(missing)}): pip install 'handoff[generator]'"
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
    catch_early(list(sys.argv[1:] if argv is None else argv))  # a service stopped while it starts exits 0
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
    except ModuleNotFoundError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        print(f"handoff: {message}", file=sys.stderr)
        return Exit.USAGE
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
