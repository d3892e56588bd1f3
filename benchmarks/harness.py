"""Shared pieces of the benchmarks: a fresh nats-server per measurement, settings for in-process services,
latency statistics, process statistics from ``/proc``, and the printed report.

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

from handoff.broker.embedded import EmbeddedNats
from handoff.common.logging import configure_logging
from handoff.common.settings import CommonSettings, EmbeddedSettings, LogSettings, NatsSettings
from handoff.schemas.topology import TopologyParams


def quiet_logs() -> None:
    """Warnings and errors only: what benchmark runs print is their tables (called by each command line)."""
    configure_logging(LogSettings(level="warning"))


@contextmanager
def fresh_server() -> Iterator[EmbeddedNats]:
    """A real nats-server with JetStream (file storage) on a random loopback port, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp, EmbeddedNats(data_dir=Path(tmp)) as server:
        yield server


def bench_topology(*, max_in_flight: int, ack_wait_s: float = 30.0) -> TopologyParams:
    """The production topology with the benchmark's global in-flight cap."""
    return TopologyParams(max_ack_pending=max_in_flight, ack_wait_s=ack_wait_s)


def common_settings(url: str, topology: TopologyParams) -> CommonSettings:
    """Settings for services run inside the benchmark process, against ``url`` (topology applied by the caller)."""
    return CommonSettings(
        nats=NatsSettings(url=url),
        embedded=EmbeddedSettings(data_dir=Path("/nonexistent")),
        topology=topology,
        log=LogSettings(level="warning"),
        apply_topology=False,
    )


def service_env(url: str, topology: TopologyParams, **extra: str | int | float) -> dict[str, str]:
    """The environment of a ``handoff generator`` / ``handoff collector`` process for the same topology."""
    env = {
        **os.environ,
        "HANDOFF_NATS_URL": url,
        "HANDOFF_APPLY_TOPOLOGY": "false",
        "HANDOFF_MAX_IN_FLIGHT": str(topology.max_ack_pending),
        "HANDOFF_ACK_WAIT_S": str(topology.ack_wait_s),
        "HANDOFF_LOG_LEVEL": "warning",
        "HANDOFF_LOG_FORMAT": "json",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    tasks: int
    wall_s: float
    latencies_s: Sequence[float] = ()
    failed: int = 0

    @property
    def per_s(self) -> float:
        return self.tasks / self.wall_s if self.wall_s else 0.0

    def pct_ms(self, q: float) -> float:
        return percentile(self.latencies_s, q) * 1000

    def row(self, baseline: Measurement | None = None) -> str:
        ratio = f"{self.per_s / baseline.per_s:.2f}" if baseline is not None and baseline.per_s else "1.00"
        return (
            f"| {self.name} | {self.tasks} | {self.wall_s:.2f} | {self.per_s:,.0f} | "
            f"{self.pct_ms(0.5):.1f} | {self.pct_ms(0.99):.1f} | {ratio} |"
        )


TABLE_HEAD = "| path | tasks | wall s | tasks/s | p50 ms | p99 ms | x baseline |\n|---|---|---|---|---|---|---|"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (
        f"{_cpu_model()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def header(title: str, what: str) -> str:
    return f"## {title}\n\n{what}\n\nmachine: {machine()}; {load()} at the start\n"


# ---- processes (Linux /proc) ------------------------------------------------------------------------
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_mb(pid: int) -> float:
    """Resident set size of one process, in MiB."""
    fields = Path(f"/proc/{pid}/statm").read_text().split()
    return int(fields[1]) * _PAGE / 2**20


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (agent terminals, pytest runs)."""
    found: list[int] = []
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for thread in threads:
        try:
            children = [int(c) for c in (thread / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found.append(child)
            found.extend(descendants(child))
    return found


def pss_mb(pid: int) -> float:
    """Proportional set size of one process, in MiB: shared pages split between the processes sharing them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_pss_mb(pid: int) -> float:
    """PSS of all descendants of ``pid``: what its child processes add, pages they share not counted twice."""
    total = 0.0
    for p in descendants(pid):
        try:
            total += pss_mb(p)
        except OSError:  # exited between listing and reading
            continue
    return total


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS
