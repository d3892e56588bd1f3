"""``HandoffClient.connect()`` finds Handoff as the ``handoff`` commands do: ``HANDOFF_NATS_URL`` (or ``url=``), else
the address a running ``handoff up`` recorded in the data dir, else the embedded server's default address; and a
connect that reaches nothing says where it looked and why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handoff.broker.embedded import EmbeddedNats
from handoff.client import HandoffClient, HandoffUnavailableError
from handoff.stack.state import write_state
from tests.support.net import free_port
from tests.support.stack_record import a_finished_pid, record


@pytest.fixture
def users_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """A pipeline's environment: the test's data dir, no URL, a default port where nothing listens (returned), one
    connect attempt (a miss fails at once)."""
    default_port = free_port()
    monkeypatch.delenv("HANDOFF_NATS_URL", raising=False)
    monkeypatch.setenv("HANDOFF_DATA_DIR", str(tmp_path))  # the nats_server fixture's data dir is tmp_path / "nats"
    monkeypatch.setenv("HANDOFF_EMBEDDED_PORT", str(default_port))
    monkeypatch.setenv("HANDOFF_NATS_CONNECT_ATTEMPTS", "1")
    return default_port


def connected_to(client: HandoffClient) -> str:
    url = client.nc.connected_url
    assert url is not None
    return f"nats://{url.hostname}:{url.port}"


async def test_connect_without_a_url_reaches_the_server_a_running_up_recorded(
    nats_server: EmbeddedNats, users_shell: int
) -> None:
    """'handoff up' records its server's address (a random port here, not the default) as it does when it is up; the
    API, given no URL, connects there."""
    write_state(nats_server.data_dir, url=nats_server.url, generators=1)  # as 'handoff up' does, with this pid
    async with HandoffClient.connect() as client:
        assert connected_to(client) == nats_server.url
    assert not nats_server.url.endswith(f":{users_shell}")


async def test_an_explicit_url_wins_over_the_recorded_up(
    nats_server: EmbeddedNats, users_shell: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running up recorded an address where nothing listens: ``url=`` and ``HANDOFF_NATS_URL`` still go where they
    say."""
    record(tmp_path, pid=os.getpid(), url=f"nats://127.0.0.1:{free_port()}")  # a live pid: the record counts
    async with HandoffClient.connect(url=nats_server.url) as client:
        assert connected_to(client) == nats_server.url
    monkeypatch.setenv("HANDOFF_NATS_URL", nats_server.url)
    async with HandoffClient.connect() as client:
        assert connected_to(client) == nats_server.url


async def test_a_connect_after_a_stale_record_names_that_up_and_that_it_no_longer_runs(
    users_shell: int, tmp_path: Path
) -> None:
    """An up killed hard leaves its record: the API tries the default address and, when nothing answers, raises the
    client's error naming the address, the record (its pid and address) and that it no longer runs."""
    pid, recorded = a_finished_pid(), f"nats://127.0.0.1:{free_port()}"
    path = record(tmp_path, pid=pid, url=recorded)
    with pytest.raises(HandoffUnavailableError) as raised:
        await HandoffClient.connect()
    message = str(raised.value)
    assert message.startswith(f"cannot reach NATS at nats://127.0.0.1:{users_shell}: "), message
    assert f"the 'handoff up' recorded in {path} (pid {pid}, {recorded}, started " in message, message
    assert "is no longer running: start it again with 'handoff up', or set HANDOFF_NATS_URL" in message
