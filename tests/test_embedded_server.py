"""The embedded nats-server: starts on loopback, keeps its store across a crash, explains failures."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from handoff.broker.connect import connect
from handoff.broker.embedded import EmbeddedNats, EmbeddedNatsError
from handoff.broker.provision import apply_topology
from handoff.common.settings import NatsSettings
from handoff.schemas import names
from handoff.schemas.topology import build_topology


async def test_a_killed_server_restarts_on_the_same_port_with_its_messages(tmp_path: Path) -> None:
    """SIGKILL then start again: same URL, and a published event is still in the file store."""
    server = EmbeddedNats(data_dir=tmp_path)
    server.start()
    url = server.url
    nc = await connect(NatsSettings(), name="t", url=url)
    await apply_topology(nc.jetstream(), build_topology())
    subject = names.task_subject(None, "t1", names.EventType.SUBMITTED)
    await nc.jetstream().publish(subject, b"{}")
    await nc.close()
    server.kill()
    assert not server.running
    server.start()
    try:
        assert server.url == url
        nc = await connect(NatsSettings(), name="t", url=url)
        msg = await nc.jetstream().get_last_msg(names.EVENTS_STREAM, subject)
        assert msg.data == b"{}"
        await nc.close()
    finally:
        server.stop()


def test_a_taken_port_gives_an_error_that_names_the_port(tmp_path: Path) -> None:
    """Starting on a port another process listens on fails with a message saying the port is taken."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        server = EmbeddedNats(data_dir=tmp_path, port=port, start_timeout_s=5)
        with pytest.raises(EmbeddedNatsError, match=f"port {port} is taken"):
            server.start()
        assert not server.running


def test_a_data_dir_in_use_by_another_server_is_refused(tmp_path: Path) -> None:
    """nats-server would happily share a store; Handoff refuses a second server on the same data dir."""
    with EmbeddedNats(data_dir=tmp_path):
        second = EmbeddedNats(data_dir=tmp_path)
        with pytest.raises(EmbeddedNatsError, match="is in use by another Handoff process"):
            second.start()
        assert not second.running
    with EmbeddedNats(data_dir=tmp_path) as third:  # free again once the first stopped
        assert third.running
