"""Every benchmark in turn, with its defaults: ``python -m benchmarks`` (about four minutes on 2 cores).

Prints the machine's load before each, so a figure taken while the machine was busy can be told apart.
"""

from __future__ import annotations

import asyncio

from benchmarks import environments, long_tasks, memory, roundtrip, scale_out, workflow
from benchmarks.harness import quiet_logs


async def main() -> None:
    runs = [
        lambda: roundtrip.main(10_000, 64, True),
        lambda: long_tasks.main(200, 0.5, 16),
        lambda: scale_out.main([1, 2, 4], 240, 0.2, 4),
        lambda: memory.main([1, 2, 4], 1.0),
        lambda: workflow.main(8, 4, 100.0, workflow.Durations(60, 110, 120, 30)),
        lambda: environments.main(5),
    ]
    for run in runs:
        print(await run(), end="\n\n", flush=True)


if __name__ == "__main__":
    quiet_logs()
    asyncio.run(main())
