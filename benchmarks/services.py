"""Handoff's services for a measurement: in the benchmark's own event loop, or as real ``handoff generator`` /
``handoff collector`` processes (how they are deployed), each against a given nats-server URL.

The topology is applied here, by the benchmark, with its own global in-flight cap; the services are told not to
apply it (``HANDOFF_APPLY_TOPOLOGY=false``) so they cannot change it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client as NATS

from benchmarks.harness import common_settings, cpu_s, service_env
from handoff.broker.connect import connect
from handoff.broker.provision import apply_topology
from handoff.collector.collector import Collector
from handoff.collector.settings import CollectorSettings
from handoff.generator import Generator, GeneratorSettings
from handoff.runners.base import Runner
from handoff.runners.sleep import SleepRunner
from handoff.schemas.events import Payload, Sleep
from handoff.schemas.topology import TopologyParams, build_topology

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
_SLEEP: Mapping[type[Payload], Runner] = {Sleep: SleepRunner()}


async def prepare(url: str, topology: TopologyParams) -> NATS:
    """A connection to ``url`` with the topology applied (the caller closes it)."""
    settings = common_settings(url, topology)
    nc = await connect(settings.nats, name="handoff-bench", url=url)
    await apply_topology(nc.jetstream(), build_topology(topology))
    return nc


@contextlib.asynccontextmanager
async def in_process(
    url: str, topology: TopologyParams, *, generators: int = 1, slots: int, collector: bool = True
) -> AsyncIterator[list[Generator]]:
    """Generator replicas (sleep runner only) and a collector on their own connections, in this event loop."""
    common = common_settings(url, topology)
    connections: list[NATS] = []
    serving: list[asyncio.Task[None]] = []
    async with contextlib.AsyncExitStack() as stack:
        replicas: list[Generator] = []
        for i in range(generators):
            nc = await connect(common.nats, name=f"bench-generator-{i}", url=url)
            connections.append(nc)
            settings = GeneratorSettings(common=common, slots=slots, replica_id=f"bench-g{i}")
            replicas.append(await stack.enter_async_context(Generator(nc, settings=settings, runners=_SLEEP)))
        folding: Collector | None = None
        if collector:
            nc = await connect(common.nats, name="bench-collector", url=url)
            connections.append(nc)
            folding = await stack.enter_async_context(
                Collector(nc.jetstream(), settings=CollectorSettings(common=common, replica_id="bench-collector"))
            )
            serving.append(asyncio.create_task(folding.run()))
        serving += [asyncio.create_task(g.run()) for g in replicas]
        try:
            yield replicas
        finally:
            for g in replicas:
                g.stop()
            if folding is not None:
                folding.request_stop()
            await asyncio.gather(*serving)
    for nc in connections:
        await nc.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    """One ``handoff <command>`` child process with a health port and its own log file."""

    command: str
    env: dict[str, str]
    health_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    profile_to: Path | None = None
    """Run under cProfile (``benchmarks.profiled_service``), the stats written here when the process stops."""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        fd, name = tempfile.mkstemp(prefix=f"handoff-bench-{self.command}-", suffix=".log")
        self.log_path = Path(name)
        env = {**self.env, "HANDOFF_HEALTH_PORT": str(self.health_port)}
        with os.fdopen(fd, "wb") as log:
            entry = ["handoff.cli.main"]
            if self.profile_to is not None:
                entry = ["benchmarks.profiled_service", str(self.profile_to)]
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *entry, self.command],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait until ``/readyz`` answers 200 (bound to its consumer and serving)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"handoff {self.command} exited with {self.proc.returncode}: {self.log_tail()}")
            if await _http_ok(self.health_port, "/readyz"):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"handoff {self.command} not ready after {timeout_s} s: {self.log_tail()}")

    def cpu_s(self) -> float:
        return cpu_s(self.pid)

    async def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(asyncio.to_thread(self.proc.wait), STOP_TIMEOUT_S)
        except TimeoutError:
            self.proc.kill()
            code = await asyncio.to_thread(self.proc.wait)
        if self.log_path is not None and code == 0:
            self.log_path.unlink(missing_ok=True)
        return code

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


async def _http_ok(port: int, path: str) -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 2.0)
        return b" 200 " in status
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def as_processes(
    url: str,
    topology: TopologyParams,
    *,
    generators: int = 1,
    slots: int,
    collector: bool = True,
    generator_env: Mapping[str, str | int | float] | None = None,
    profile_dir: Path | None = None,
) -> AsyncIterator[tuple[list[ServiceProcess], ServiceProcess | None]]:
    """``handoff generator`` x ``generators`` and ``handoff collector`` as child processes, ready when yielded;
    with ``profile_dir``, each runs under cProfile and writes ``<command>[-<n>].prof`` there when it stops."""
    gens = [
        ServiceProcess(
            "generator",
            service_env(
                url,
                topology,
                HANDOFF_GENERATOR_SLOTS=slots,
                HANDOFF_REPLICA_ID=f"bench-g{i}",
                HANDOFF_SHUTDOWN_GRACE_S=5,
                **dict(generator_env or {}),
            ),
        )
        for i in range(generators)
    ]
    folding = ServiceProcess("collector", service_env(url, topology)) if collector else None
    if profile_dir is not None:
        for i, gen in enumerate(gens):
            gen.profile_to = profile_dir / (f"generator-{i}.prof" if i else "generator.prof")
        if folding is not None:
            folding.profile_to = profile_dir / "collector.prof"
    children = [*gens, *([folding] if folding else [])]
    try:
        for child in children:
            child.start()
        await asyncio.gather(*(child.ready() for child in children))
        yield gens, folding
    finally:
        codes = await asyncio.gather(*(child.stop() for child in children))
        for child, code in zip(children, codes, strict=True):
            if code != 0:
                print(f"warning: handoff {child.command} exited {code}; log: {child.log_path}", file=sys.stderr)
