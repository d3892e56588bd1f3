"""The client reads records through the contract in schemas/, not through the collector's or generator's code."""

from __future__ import annotations

import subprocess
import sys

ACTORS = ("handoff.collector", "handoff.generator", "handoff.runners")


def test_importing_the_client_imports_no_collector_generator_or_runner_module() -> None:
    """The client, its legacy interface and the status verb load without any actor's modules."""
    code = (
        "import sys, services.client, services.client.legacy, services.cli.status_cmd\n"
        f"print(sorted(m for m in sys.modules if m.startswith({ACTORS!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
