"""``Stack``: nats-server (embedded unless ``HANDOFF_NATS_URL`` is set), the topology, one collector and N
generator replicas as child processes. Crashed children are restarted with backoff; stopping is ordered:
generators first (they finish or hand back their tasks), then the collector, then the server. A child is killed only
after its own longest graceful shutdown (computed from the settings it reads) and a margin, unless
``HANDOFF_UP_CHILD_STOP_TIMEOUT_S`` says otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import structlog

from handoff.broker.connect import connect, embedded_server
from handoff.broker.embedded import EmbeddedNats
from handoff.broker.provision import Change, apply_topology
from handoff.collector.settings import CollectorSettings
from handoff.generator.settings import GeneratorSettings
from handoff.schemas.topology import build_topology
from handoff.stack.settings import CHILD_STOP_MARGIN_S, StackSettings
from handoff.stack.state import clear_state, write_state

log = structlog.get_logger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    shutdown_bound_s: float = 0.0  # the child's own longest graceful shutdown, from the settings it reads
    stop_timeout_s: float = 0.0  # after SIGTERM, how long close() waits before killing it
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)


class Stack:
    def __init__(self, settings: StackSettings, *, log_dir: Path | None = None) -> None:
        self.settings = settings
        self.server: EmbeddedNats | None = None
        self.url = settings.common.nats.url or ""
        self.children: list[Child] = []
        self.changes: list[Change] = []
        self._log_dir = log_dir or Path(settings.common.embedded.data_dir).parent / "logs"
        self._stopping = False
        self._stop = asyncio.Event()

    # ---- lifecycle --------------------------------------------------------------------------------
    async def __aenter__(self) -> Stack:
        try:
            if not self.url:
                self.server = embedded_server(self.settings.common.embedded)
                await asyncio.to_thread(self.server.start)
                self.url = self.server.url
            nc = await connect(self.settings.common.nats, name="handoff-up", url=self.url)
            try:
                self.changes = await apply_topology(nc.jetstream(), build_topology(self.settings.common.topology))
            finally:
                await nc.close()
            self._log_dir.mkdir(parents=True, exist_ok=True)
            self.children = self._plan_children()
            for child in self.children:
                await self._spawn(child)
            if self.server is not None:
                write_state(self.server.data_dir, url=self.url, generators=self.settings.generators)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Until ``request_stop()``; children that die meanwhile are restarted by their watchers."""
        await self._stop.wait()

    async def close(self) -> None:
        self._stopping = True
        generators = [c for c in self.children if c.name.startswith("generator")]
        others = [c for c in self.children if c not in generators]
        await asyncio.gather(*(self._terminate(c) for c in generators))
        await asyncio.gather(*(self._terminate(c) for c in others))
        if self.server is not None:
            clear_state(self.server.data_dir)
            await asyncio.to_thread(self.server.stop)
            self.server = None

    def check_settings(self) -> None:
        """Parse every child's settings as the child will (``SettingsError`` naming the variable), before anything
        starts: a child that cannot start would otherwise be restarted forever with the reason only in its log."""
        children = self._plan_children(url=self.url or "nats://127.0.0.1:4222")  # parses each child's settings
        cut_short = [c for c in children if c.stop_timeout_s < c.shutdown_bound_s]
        if cut_short:
            log.warning(
                "HANDOFF_UP_CHILD_STOP_TIMEOUT_S is shorter than a child's graceful shutdown: on stop it is killed "
                "before its tasks' grace ends (their submits are redelivered after the ack wait); unset it to wait "
                "for each child's own bound plus a margin",
                child_stop_timeout_s=self.settings.child_stop_timeout_s,
                needed_s={c.name: round(c.shutdown_bound_s, 3) for c in cut_short},
            )

    # ---- children ---------------------------------------------------------------------------------
    def _plan_children(self, url: str | None = None) -> list[Child]:
        base_env = {
            **os.environ,
            "HANDOFF_NATS_URL": url or self.url,
            "HANDOFF_APPLY_TOPOLOGY": "false",
            "HANDOFF_LOG_FORMAT": "json",
        }
        health = self.settings.health_base_port
        command = [sys.executable, "-m", "handoff.cli.main"]
        children = [
            Child(
                name="collector",
                argv=[*command, "collector"],
                env={**base_env, **({"HANDOFF_HEALTH_PORT": str(health)} if health else {})},
                log_path=self._log_dir / "collector.log",
            )
        ]
        for i in range(self.settings.generators):
            env = {**base_env, "HANDOFF_REPLICA_ID": f"generator-{i + 1}"}
            if self.settings.slots_per_generator:
                env["HANDOFF_GENERATOR_SLOTS"] = str(self.settings.slots_per_generator)
            if health:
                env["HANDOFF_HEALTH_PORT"] = str(health + 1 + i)
            children.append(
                Child(
                    name=f"generator-{i + 1}",
                    argv=[*command, "generator"],
                    env=env,
                    log_path=self._log_dir / f"generator-{i + 1}.log",
                )
            )
        for child in children:
            child.shutdown_bound_s = _shutdown_bound_s(child)
            explicit = self.settings.child_stop_timeout_s
            child.stop_timeout_s = explicit if explicit is not None else child.shutdown_bound_s + CHILD_STOP_MARGIN_S
        return children

    async def _spawn(self, child: Child) -> None:
        with child.log_path.open("ab") as sink:
            child.proc = await asyncio.create_subprocess_exec(
                *child.argv,
                env=child.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children in order
            )
        log.info("started", child=child.name, pid=child.proc.pid, log=str(child.log_path))
        child.watcher = asyncio.create_task(self._watch(child), name=f"watch-{child.name}")

    async def _watch(self, child: Child) -> None:
        assert child.proc is not None
        code = await child.proc.wait()
        if self._stopping:
            return
        child.restarts += 1
        delay = min(2 ** min(child.restarts - 1, 5), self.settings.restart_backoff_max_s)
        log.warning(
            "child exited; restarting",
            child=child.name,
            code=code,
            restarts=child.restarts,
            delay_s=delay,
            log=str(child.log_path),
        )
        await asyncio.sleep(delay)
        if not self._stopping:
            await self._spawn(child)

    async def _terminate(self, child: Child) -> None:
        proc = child.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=child.stop_timeout_s)
        except TimeoutError:
            log.warning("child did not stop in time; killing", child=child.name, waited_s=child.stop_timeout_s)
            proc.kill()
            await proc.wait()
        if child.watcher is not None:
            child.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await child.watcher


def _shutdown_bound_s(child: Child) -> float:
    """Parse the child's settings as the child will (``SettingsError`` naming the variable): its longest graceful
    shutdown."""
    if child.name.startswith("generator"):
        return GeneratorSettings.from_env(child.env).shutdown_bound_s
    return CollectorSettings.from_env(child.env).shutdown_bound_s
