"""While NATS answers but JetStream does not (quorum lost, JetStream still starting), every client verb says
"unavailable" (exit 4) in words, never "a task failed" (exit 1) with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from handoff.broker.embedded import nats_server_binary
from tests.support.net import free_port, wait_until

VERBS = [
    ["wait", "--run-id", "r1", "--timeout-s", "0.5"],
    ["wait", "t1", "--timeout-s", "1"],
    ["result", "t1"],
    ["result", "t1", "--wait-s", "1"],
    ["status"],
    ["status", "t1"],
    ["watch", "--run-id", "r1"],
    ["cancel", "t1"],
]


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def server_without_jetstream() -> Iterator[str]:
    """A real nats-server with JetStream disabled: core NATS answers, every JetStream API request goes unanswered."""
    port = free_port()
    proc = subprocess.Popen(
        [str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _listening(port), timeout_s=10, what="nats-server listening")
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v))
def test_every_verb_exits_4_with_a_message_while_jetstream_does_not_answer(
    server_without_jetstream: str, verb: list[str]
) -> None:
    """Each verb ends with exit 4 and a one-line reason, not exit 1 and a traceback."""
    env = {**os.environ, "HANDOFF_NATS_URL": server_without_jetstream, "HANDOFF_SUBMIT_TIMEOUT_S": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *verb],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert "did not answer" in done.stderr
    assert "handoff up" not in done.stderr  # the URL was given explicitly: no hint to start a local stack
