"""The chaos harness: generator replicas as processes that can be SIGKILLed and replaced, and a seeded schedule.

Every incarnation of a replica has its own id (``chaos-r<slot>-g<generation>``), so a TaskStarted names the exact
process that ran the attempt, and the test can tell whether that process was killed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from handoff.broker.embedded import EmbeddedNats
from handoff.common.clock import utcnow
from tests.generator.processes import ReplicaProcess
from tests.support.nats import eventually


@dataclass(frozen=True)
class Kill:
    replica_id: str
    at: datetime


@dataclass(frozen=True)
class BrokerOutage:
    down_at: datetime
    up_at: datetime


@dataclass
class ChaosLog:
    kills: list[Kill] = field(default_factory=list)
    outages: list[BrokerOutage] = field(default_factory=list)

    @property
    def killed(self) -> set[str]:
        return {k.replica_id for k in self.kills}


class ReplicaFleet:
    """``size`` replica processes; ``kill_and_replace(slot)`` SIGKILLs one and starts its next generation."""

    def __init__(self, url: str, log_dir: Path, *, size: int, env: dict[str, str]) -> None:
        self._url = url
        self._log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self._env = env
        self._generations = [0] * size
        self.current: list[ReplicaProcess] = [self._spawn(slot) for slot in range(size)]
        self.retired: list[ReplicaProcess] = []

    def _spawn(self, slot: int) -> ReplicaProcess:
        self._generations[slot] += 1
        return ReplicaProcess(self._url, f"chaos-r{slot}-g{self._generations[slot]}", self._log_dir, **self._env)

    def kill(self, slot: int) -> str:
        victim = self.current[slot]
        victim.kill()
        self.retired.append(victim)
        return victim.replica_id

    def replace(self, slot: int) -> None:
        self.current[slot] = self._spawn(slot)

    async def ready(self) -> bool:
        """Every current replica has bound its consumer (a replica still starting up would not survive a broker
        outage that outlasts its connection attempts)."""
        return all("generator ready" in proc.log() for proc in self.current)

    def terminate_all(self, timeout_s: float) -> dict[str, int | None]:
        """SIGTERM every live replica; their exit codes (None: it had died already)."""
        codes: dict[str, int | None] = {}
        for proc in self.current:
            codes[proc.replica_id] = proc.terminate(timeout_s) if proc.proc.poll() is None else None
        return codes

    def logs(self, tail_lines: int = 30) -> str:
        parts = []
        for proc in [*self.retired, *self.current]:
            lines = proc.log().splitlines()[-tail_lines:]
            parts.append(f"--- {proc.replica_id} ---\n" + "\n".join(lines))
        return "\n".join(parts)

    def count_in_logs(self, text: str) -> int:
        return sum(proc.log().count(text) for proc in [*self.retired, *self.current])

    def close(self) -> None:
        for proc in [*self.retired, *self.current]:
            proc.close()


async def run_chaos(
    fleet: ReplicaFleet,
    server: EmbeddedNats,
    rng: random.Random,
    *,
    replica_kills: int,
    broker_kill_after: int,
    pause_s: tuple[float, float],
    restart_after_s: tuple[float, float],
    broker_downtime_s: float,
    done: Callable[[], Awaitable[bool]],
    on_broker_back: asyncio.Event,
) -> ChaosLog:
    """SIGKILL a random replica ``replica_kills`` times (restarting it shortly after), and nats-server once.

    Stops early once ``done()`` says every task finished. The schedule comes from ``rng`` alone."""
    log = ChaosLog()
    slots = len(fleet.current)
    for n in range(replica_kills):
        await asyncio.sleep(rng.uniform(*pause_s))
        if await done():
            break
        if n == broker_kill_after:
            log.outages.append(await _broker_outage(fleet, server, broker_downtime_s))
            on_broker_back.set()
            await asyncio.sleep(rng.uniform(*pause_s))
        slot = rng.randrange(slots)
        log.kills.append(Kill(fleet.kill(slot), utcnow()))
        await asyncio.sleep(rng.uniform(*restart_after_s))
        fleet.replace(slot)
    if not log.outages:  # everything finished before the broker's turn: still take it down once
        log.outages.append(await _broker_outage(fleet, server, broker_downtime_s))
    on_broker_back.set()
    return log


async def _broker_outage(fleet: ReplicaFleet, server: EmbeddedNats, downtime_s: float) -> BrokerOutage:
    await eventually(fleet.ready, timeout_s=30, what="every replica to be ready before the broker goes down")
    down_at = utcnow()
    server.kill()
    await asyncio.sleep(downtime_s)  # the outage itself
    await asyncio.to_thread(server.start)
    return BrokerOutage(down_at=down_at, up_at=utcnow())
