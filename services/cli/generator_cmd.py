"""``handoff generator``: run one generator replica until SIGTERM or SIGINT, then shut down gracefully.

Settings come from the environment (``GeneratorSettings.from_env``). With no ``HANDOFF_NATS_URL`` the embedded
nats-server is started first. A first signal starts the graceful shutdown; a second one skips the rest of the
grace period. Exit code 0 after a graceful shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping

import structlog

from schemas.events import Payload
from services.broker.connect import Broker
from services.cli.exit_codes import Exit
from services.cli.failures import broker_failures
from services.common.logging import configure_logging
from services.generator import Generator, GeneratorError, GeneratorSettings
from services.generator.presence import PresenceReporter
from services.observability.http import HealthServer, Readiness
from services.runners.base import Runner
from services.runners.openhands.settings import RunnerSettings

log = structlog.get_logger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "generator",
        help="run one generator replica (consumes submits, runs tasks) until SIGTERM/SIGINT",
        description="Run one generator replica. Settings: HANDOFF_GENERATOR_SLOTS, HANDOFF_REPLICA_ID, "
        "HANDOFF_SHUTDOWN_GRACE_S, ... (see docs/generator.md).",
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    settings = GeneratorSettings.from_env()
    writer = RunnerSettings.from_env()  # a bad agent setting is a start-up error (exit 2), never a failed task
    configure_logging(settings.common.log)
    log.warning(writer.writer) if writer.offline_engine is not None else log.info(writer.writer)
    return await serve(settings)


async def serve(
    settings: GeneratorSettings,
    *,
    handle_signals: bool = True,
    runners: Mapping[type[Payload], Runner] | None = None,
) -> int:
    """Run one replica until a signal (or, without signal handling, until the task is cancelled)."""
    readiness = Readiness()  # /healthz answers from the start; /readyz only once the consumer is bound
    try:
        with broker_failures("NATS unavailable"):
            async with contextlib.AsyncExitStack() as stack:
                if settings.health_port:
                    await stack.enter_async_context(HealthServer(port=settings.health_port, ready=readiness))
                broker = await stack.enter_async_context(
                    Broker(settings.common, name=f"handoff-generator-{settings.replica_id}")
                )
                assert broker.nc is not None
                generator = await stack.enter_async_context(Generator(broker.nc, settings=settings, runners=runners))
                await stack.enter_async_context(
                    PresenceReporter(broker.js, generator.stats, interval_s=settings.presence_interval_s)
                )
                readiness.attach(lambda: generator.stats.ready)
                if handle_signals:
                    loop = asyncio.get_running_loop()
                    for sig in (signal.SIGTERM, signal.SIGINT):
                        loop.add_signal_handler(sig, _on_signal, generator, sig)
                await generator.run()
    except GeneratorError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return Exit.UNAVAILABLE
    return Exit.OK


def _on_signal(generator: Generator, sig: signal.Signals) -> None:
    log.info("signal received: shutting down", signal=sig.name, again_to_skip_grace=True)
    generator.stop()
