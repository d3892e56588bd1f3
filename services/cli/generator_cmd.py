"""``handoff generator``: run one generator replica until SIGTERM or SIGINT, then shut down gracefully.

Settings come from the environment (``GeneratorSettings.from_env``). The task sandbox is checked first: one that
cannot start ends the command with exit code 2 before any task is taken. With no ``HANDOFF_NATS_URL`` the embedded
nats-server is started first. A first signal starts the graceful shutdown; a second one skips the rest of the
grace period. Exit code 0 after a graceful shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Mapping

import structlog

from handoff.artifacts.runtime import tarfile_filter_fixes_missing
from handoff.broker.connect import Broker
from handoff.cli.exit_codes import Exit
from handoff.cli.failures import broker_failures
from handoff.cli.service_signals import ServiceSignals
from handoff.common.logging import configure_logging
from handoff.generator import Generator, GeneratorError, GeneratorSettings
from handoff.generator.errors import ConsumerDrifted
from handoff.generator.presence import PresenceReporter
from handoff.observability.http import HealthPortUnavailable, HealthServer, Readiness
from handoff.runners.base import Runner
from handoff.sandbox import SandboxSettings
from handoff.sandbox.startup import check_sandbox
from handoff.schemas.events import Payload

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
    with ServiceSignals() as signals:  # from the first moment: a signal during start-up ends it with exit 0
        try:
            settings = GeneratorSettings.from_env()
            from handoff.runners.openhands.settings import RunnerSettings  # the agent stack: only where it runs

            writer = RunnerSettings.from_env()  # a bad agent setting is a start-up error (exit 2), not a failed task
            configure_logging(settings.common.log)
            log.warning(writer.writer) if writer.offline_engine is not None else log.info(writer.writer)
            await check_sandbox(SandboxSettings.from_env(), who="generator")  # refuses to start (exit 2) without
            return await serve(settings, signals)
        except asyncio.CancelledError:
            if not signals.stopped_during_start_up():
                raise
            return Exit.OK


async def serve(
    settings: GeneratorSettings, signals: ServiceSignals, runners: Mapping[type[Payload], Runner] | None = None
) -> int:
    """Run one replica until a signal; its handlers are ``signals``, which start-up has already installed."""
    if (warning := tarfile_filter_fixes_missing()) is not None:
        log.warning("python_tarfile_unpatched", detail=warning)
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
                signals.on_stop = generator.stop  # from now on: graceful shutdown; again: skip the grace
                await generator.run()
    except (ConsumerDrifted, HealthPortUnavailable) as exc:  # configuration problems an operator fixes
        print(f"handoff: {exc}", file=sys.stderr)
        return Exit.USAGE
    except GeneratorError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return Exit.UNAVAILABLE
    return Exit.OK
