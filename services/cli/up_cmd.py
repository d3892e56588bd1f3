"""``handoff up``: the whole stack on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal

import msgspec

from handoff.broker.provision import Action
from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit
from handoff.cli.failures import broker_failures
from handoff.common.logging import configure_logging
from handoff.observability.http import port_taken
from handoff.sandbox import SandboxSettings
from handoff.sandbox.startup import check_sandbox
from handoff.stack.settings import StackSettings
from handoff.stack.supervisor import Stack


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "up",
        help="run nats-server (embedded unless HANDOFF_NATS_URL is set), a collector and generators until Ctrl-C",
    )
    parser.add_argument("--generators", type=int, help="generator replicas (default HANDOFF_UP_GENERATORS or 2)")
    parser.add_argument("--slots", type=int, help="task slots per generator (default: the generator's own)")
    parser.add_argument("--health-base-port", type=int, help="collector's health port; generators use the next ones")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    settings = StackSettings.from_env()
    overrides: dict[str, object] = {}
    if args.generators is not None:
        if args.generators < 1:
            raise CliError(Exit.USAGE, f"--generators must be at least 1, got {args.generators}")
        overrides["generators"] = args.generators
    if args.slots is not None:
        if args.slots < 1:
            raise CliError(Exit.USAGE, f"--slots must be at least 1, got {args.slots}")
        overrides["slots_per_generator"] = args.slots
    if args.health_base_port is not None:
        if not 1 <= args.health_base_port <= 65535 - settings.generators:
            raise CliError(Exit.USAGE, "--health-base-port must leave room for the generators' ports below 65536")
        overrides["health_base_port"] = args.health_base_port
    settings = msgspec.structs.replace(settings, **overrides)
    from handoff.runners.openhands.settings import RunnerSettings  # the agent stack: only where it runs

    writer = RunnerSettings.from_env()  # the generators read the same variables: refuse bad ones before starting
    configure_logging(settings.common.log)
    sandbox = None
    if settings.generators:  # generators refuse to start without their sandbox: say so once, here
        sandbox = await check_sandbox(SandboxSettings.from_env(), who="up")
    stack = Stack(settings)
    stack.check_settings()  # every child's settings, before anything starts (SettingsError: exit 2)
    check_health_ports(settings.health_base_port, settings.generators)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal it ran in was closed
        loop.add_signal_handler(sig, stack.request_stop)
    with broker_failures("cannot start the stack"):
        async with stack:
            changed = [str(c) for c in stack.changes if c.action != Action.UNCHANGED]
            print(f"Handoff is up: nats {stack.url}, 1 collector, {settings.generators} generator(s)", flush=True)
            if data_dir := os.environ.get("HANDOFF_DATA_DIR"):  # not the default: other commands must be told
                print(f"  clients: HANDOFF_DATA_DIR={shlex.quote(data_dir)} finds this stack "
                      f"(or HANDOFF_NATS_URL={stack.url})", flush=True)  # fmt: skip
            if sandbox is not None:
                state = "bubblewrap" if sandbox.enabled else "NONE - agents run UNSANDBOXED (HANDOFF_SANDBOX=none)"
                print(f"  task sandbox: {state}", flush=True)
            for line in changed:
                print(f"  topology {line}", flush=True)
            for child in stack.children:
                pid = child.proc.pid if child.proc else "?"
                print(f"  {child.name:<14} pid {pid:<8} log {child.log_path}", flush=True)
            print(f"  {writer.writer}", flush=True)
            print("Ctrl-C stops everything (generators finish or hand back their tasks first).", flush=True)
            await stack.run()
            print("stopping…", flush=True)
    print("stopped", flush=True)
    return Exit.OK


def check_health_ports(base: int | None, generators: int) -> None:
    """Every port the children's health servers will take (the collector's ``base``, generator i's ``base + i``) can
    be listened on now; else a usage error naming the port, before anything starts (a child that cannot bind its
    port would exit and be restarted again and again)."""
    if base is None:
        return
    for port, child in [(base, "the collector"), *((base + i, f"generator-{i}") for i in range(1, generators + 1))]:
        if (why := port_taken(port)) is not None:
            raise CliError(
                Exit.USAGE,
                f"--health-base-port {base}: port {port} ({child}'s health endpoints) cannot be listened on: "
                f"{why.lower()}; choose a base with {generators + 1} free ports from it",
            )
