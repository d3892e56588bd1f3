"""``handoff collector`` as an operator runs it: a subprocess that folds events until SIGTERM, then exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.cli.exit_codes import Exit
from handoff.schemas.topology import Topology
from tests.collector.lifecycle import lifecycle, publish
from tests.collector.probes import task_record
from tests.support.nats import eventually


async def test_the_collector_command_folds_events_and_stops_cleanly_on_sigterm(
    js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats
) -> None:
    """A task published while the command runs gets a final record; SIGTERM ends it with exit code 0."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "handoff.cli.main",
        "collector",
        env={
            **os.environ,
            "HANDOFF_NATS_URL": nats_server.url,
            "HANDOFF_APPLY_TOPOLOGY": "false",
            "HANDOFF_LOG_FORMAT": "json",
            "HANDOFF_REPLICA_ID": "collector-cli",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await publish(js, lifecycle("via-cli"))

        async def final() -> bool:
            record = await task_record(js, "via-cli")
            return record is not None and record.final

        await eventually(final, timeout_s=30, what="record folded by the command")
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == Exit.OK, stderr.decode()
    assert b"collector stopped" in stderr and b"collector-cli" in stderr


def test_the_collector_command_without_a_topology_says_so_and_exits_unavailable(nats_server: EmbeddedNats) -> None:
    """On a server where the topology was never applied, the command names the fix and exits 4."""
    done = subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", "collector"],
        env={**os.environ, "HANDOFF_NATS_URL": nats_server.url, "HANDOFF_APPLY_TOPOLOGY": "false"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == Exit.UNAVAILABLE, done.stderr
    assert "handoff topology apply" in done.stderr
