"""One ``handoff <command>`` process under cProfile, its imports left out, for ``roundtrip --profile-dir``:

    python -m benchmarks.profiled_service OUT.prof generator

Handoff's modules are imported before the profiler starts, so the profile holds the service's connect, serving
and shutdown; it counts CPU time, not waiting. The stats are written when the command returns (SIGTERM: a graceful
stop).
"""

from __future__ import annotations

import cProfile
import sys
import time

import handoff.cli.collector_cmd
import handoff.cli.generator_cmd
import handoff.collector.collector
import handoff.generator  # noqa: F401  (imported before the profiler starts)
from handoff.cli.main import main


def cli() -> None:
    out, command = sys.argv[1], sys.argv[2]
    profiler = cProfile.Profile(time.process_time)  # CPU time: waiting in epoll is not the service's cost
    profiler.enable()
    try:
        code = main([command])
    finally:
        profiler.disable()
        profiler.dump_stats(out)
    sys.exit(code)


if __name__ == "__main__":
    cli()
