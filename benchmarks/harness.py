"""Shared pieces of the benchmarks: a fresh nats-server per measurement, latency statistics, a results table.

Every benchmark prints its figures next to a baseline measured in the same run, on the same machine.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LOG_AUTO_CONFIG", "false")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from services.broker.embedded import EmbeddedNats
from services.common.logging import configure_logging
from services.common.settings import LogSettings

configure_logging(LogSettings(level="warning"))


@contextmanager
def fresh_server() -> Iterator[EmbeddedNats]:
    """A real nats-server with JetStream (file storage) on a random loopback port, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp, EmbeddedNats(data_dir=Path(tmp)) as server:
        yield server


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    tasks: int
    wall_s: float
    latencies_s: Sequence[float] = ()

    @property
    def per_s(self) -> float:
        return self.tasks / self.wall_s if self.wall_s else 0.0

    def pct_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def row(self) -> str:
        return (
            f"| {self.name} | {self.tasks} | {self.wall_s:.2f} | {self.per_s:,.0f} | "
            f"{self.pct_ms(0.5):.1f} | {self.pct_ms(0.99):.1f} |"
        )


TABLE_HEAD = "| path | tasks | wall s | tasks/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
