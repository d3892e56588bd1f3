"""``handoff server``: run the embedded nats-server in the foreground (the one other commands start by default)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from handoff.broker.connect import embedded_server
from handoff.broker.embedded import EmbeddedNatsError
from handoff.cli.exit_codes import Exit
from handoff.common.logging import configure_logging
from handoff.common.settings import CommonSettings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("server", help="run the embedded nats-server (JetStream, loopback) until Ctrl-C")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    settings = CommonSettings.from_env()
    configure_logging(settings.log)
    server = embedded_server(settings.embedded)
    try:
        await asyncio.to_thread(server.start)
    except EmbeddedNatsError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return Exit.UNAVAILABLE
    print(f"nats-server listening on {server.url} (data in {server.data_dir}); Ctrl-C stops it", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal it ran in was closed
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await asyncio.to_thread(server.stop)
    return Exit.OK
