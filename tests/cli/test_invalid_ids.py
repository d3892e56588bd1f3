"""Every verb refuses ids that are not subject tokens with exit 2 and a clear message, against a live server
holding another run's events (which a wildcard would otherwise have shown or touched)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import HandoffClient
from handoff.schemas import names
from handoff.schemas.events import Sleep
from handoff.schemas.topology import Topology

VERBS = [
    ("submit", "--sleep-s", "0", "--run-id", "*"),
    ("submit", "--sleep-s", "0", "--run-id", "a.b"),
    ("wait", ">"),
    ("wait", "--run-id", "*", "--timeout-s", "2"),
    ("result", "*"),
    ("result", "victim 1"),
    ("status", ">"),
    ("watch", "--run-id", "*", "--from", "start"),
    ("watch", "--task-id", ">", "--from", "start"),
    ("cancel", "*"),
    ("cancel", "a.>"),
]


def _handoff(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HANDOFF_NATS_URL": url, "HANDOFF_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("args", VERBS, ids=[" ".join(v) for v in VERBS])
async def test_a_verb_given_a_wildcard_id_exits_2_with_a_clear_message(
    nats_server: EmbeddedNats, nc: object, js: JetStreamContext, topology: Topology, tmp_path: Path,
    args: tuple[str, ...],
) -> None:  # fmt: skip
    """The id is refused before anything is read or published: exit 2, 'invalid ... id', no traceback."""
    client = HandoffClient(nc)  # type: ignore[arg-type]
    await client.submit(Sleep(duration_s=60), task_id="victim-1", run_id="victim-run")
    before = (await js.stream_info(names.EVENTS_STREAM)).state.messages
    done = await asyncio.to_thread(_handoff, nats_server.url, tmp_path, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "invalid" in done.stderr and " id " in done.stderr and "Traceback" not in done.stderr
    assert "victim" not in done.stdout
    assert (await js.stream_info(names.EVENTS_STREAM)).state.messages == before
