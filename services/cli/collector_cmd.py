"""``handoff collector``: run one collector replica until SIGTERM/SIGINT, then stop gracefully.

On a signal the replica stops pulling, folds and acknowledges the batch in hand (for up to
``HANDOFF_SHUTDOWN_GRACE_S``; whatever is left unacknowledged is redelivered to another replica), unsubscribes and
closes its connection. It never drains the connection (a drain with a pull subscription hangs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import structlog

from handoff.broker.connect import Broker
from handoff.cli.exit_codes import Exit
from handoff.cli.failures import broker_failures
from handoff.cli.service_signals import ServiceSignals
from handoff.collector import Collector, CollectorSettings
from handoff.common.logging import configure_logging
from handoff.observability.http import HealthPortUnavailable, HealthServer, Readiness

log = structlog.get_logger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "collector",
        help="run a collector replica: fold lifecycle events into task and run records (until SIGTERM)",
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    settings = CollectorSettings.from_env()
    configure_logging(settings.common.log)
    readiness = Readiness()  # /healthz answers from the start; /readyz only once the consumer is bound
    with ServiceSignals() as signals:  # from the start: a signal while it connects ends start-up cleanly (exit 0)
        try:
            with broker_failures("NATS unavailable"):
                async with contextlib.AsyncExitStack() as stack:
                    if settings.health_port:
                        await stack.enter_async_context(HealthServer(port=settings.health_port, ready=readiness))
                    broker = await stack.enter_async_context(
                        Broker(settings.common, name=f"handoff-{settings.replica_id}")
                    )
                    collector = await stack.enter_async_context(Collector(broker.js, settings=settings))
                    readiness.attach(lambda: collector.ready)
                    await serve(collector, grace_s=settings.shutdown_grace_s, signals=signals)
        except asyncio.CancelledError:
            if not signals.stopped_during_start_up():
                raise
        except HealthPortUnavailable as exc:  # a configuration problem an operator fixes: not "unavailable"
            print(f"handoff: {exc}", file=sys.stderr)
            return Exit.USAGE
    return Exit.OK


async def serve(collector: Collector, *, grace_s: float, signals: ServiceSignals) -> None:
    """Run ``collector`` until SIGTERM/SIGINT; give the batch in hand ``grace_s`` to finish, then cancel it."""
    stop = asyncio.Event()
    signals.on_stop = stop.set
    running = asyncio.create_task(collector.run(), name="collector")
    stopping = asyncio.create_task(stop.wait(), name="collector-signal")
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            log.info("stop requested; finishing the batch in hand", grace_s=grace_s)
            collector.request_stop()
            done, _ = await asyncio.wait({running}, timeout=grace_s)
            if not done:
                log.warning("grace period over; unacknowledged events will be redelivered", grace_s=grace_s)
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                return
        running.result()  # a collector that failed on its own raises here
    finally:
        stopping.cancel()
        if not running.done():  # we are being cancelled ourselves
            running.cancel()
