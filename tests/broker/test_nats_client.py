"""Handoff's nats-py client: its header parse gives what nats-py's gives, for any header block; direct
subscriptions get every message, in order, on any client, survive a restart and a failing handler."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from handoff.broker import nats_client as headers
from handoff.broker.connect import connect
from handoff.broker.embedded import EmbeddedNats
from handoff.broker.nats_client import subscribe_direct
from handoff.common.settings import NatsSettings
from tests.support.nats import eventually

# names and values drawn from what makes parsing differ: whitespace of every kind (str.isspace includes
# \x1c-\x1f, bytes.strip does not), colons, non-ASCII and invalid UTF-8, empty parts
_PIECES = b"Nats-Msg-Id|Status|a| |\t|\x0b|\x1c|\x1f|:|\r|\n|\xc3\xa9|\xff|-|x y||1".split(b"|")
_pieces = st.sampled_from(_PIECES)
_line = st.lists(_pieces, max_size=6).map(b"".join)
_block = st.lists(_line, max_size=8).map(b"\r\n".join)


@settings(max_examples=3000, deadline=None)
@given(_block)
def test_any_header_block_parses_as_nats_py_parses_it(raw: bytes) -> None:
    headers._names.clear()  # each example starts without remembered names, then reuses them
    assert headers.parse_header_lines(raw) == NatsClient._parse_header_lines(raw)
    assert headers.parse_header_lines(raw) == NatsClient._parse_header_lines(raw)  # remembered names


def test_names_a_line_would_skip_are_remembered_as_skipped() -> None:
    headers._names.clear()
    raw = b"Bad Name: 1\r\n\x1cLead: 2\r\nGood: 3\r\n: empty\r\nno colon"
    first = headers.parse_header_lines(raw)
    assert first == {"Good": "3", "": "empty"} == NatsClient._parse_header_lines(raw)
    assert headers.parse_header_lines(raw) == first


def test_the_memory_of_names_is_bounded() -> None:
    headers._names.clear()
    for i in range(headers.MAX_NAMES * 2):
        assert headers.parse_header_lines(f"N{i}: v".encode()) == {f"N{i}": "v"}
    assert len(headers._names) <= headers.MAX_NAMES


async def test_handoffs_connections_parse_headers_with_it(nats_server: EmbeddedNats) -> None:
    nc = await connect(NatsSettings(url=nats_server.url), name="headers-test")
    try:
        assert isinstance(nc, headers.Client)
        sub = await nc.subscribe("hdr.test")
        await nc.publish("hdr.test", b"x", headers={"Handoff-Name": "v a l", "Nats-Msg-Id": "é"})
        msg = await sub.next_msg(timeout=5)
        assert msg.headers == {"Handoff-Name": "v a l", "Nats-Msg-Id": "é"}
    finally:
        await nc.close()


@pytest.mark.parametrize("handoffs", [True, False], ids=["handoff-client", "plain-nats-py"])
async def test_a_direct_subscription_gets_every_message_in_order_on_any_client(
    nats_server: EmbeddedNats, handoffs: bool
) -> None:
    nc = (
        await connect(NatsSettings(url=nats_server.url), name="direct")
        if handoffs
        else await nats.connect(nats_server.url)
    )
    got: list[bytes] = []
    try:
        sub = await subscribe_direct(nc, "direct.>", lambda msg: got.append(msg.data))
        for i in range(200):
            await nc.publish(f"direct.{i}", str(i).encode())
        await nc.flush()
        await eventually(lambda: _async(len(got) == 200), what="200 messages")
        assert got == [str(i).encode() for i in range(200)]
        await sub.unsubscribe()
        await nc.publish("direct.late", b"late")
        await nc.flush()
        await asyncio.sleep(0.2)
        assert got[-1] == b"199"
        if handoffs:
            assert nc._direct == {}  # the handler went with the subscription
    finally:
        await nc.close()


async def test_a_handler_that_fails_loses_its_message_and_the_connection_goes_on(nats_server: EmbeddedNats) -> None:
    nc = await connect(NatsSettings(url=nats_server.url), name="direct-failing")
    got: list[bytes] = []

    def handler(msg: Msg) -> None:
        if msg.data == b"bad":
            raise ValueError("a defect in a handler")
        got.append(msg.data)

    try:
        await subscribe_direct(nc, "failing", handler)
        for data in (b"one", b"bad", b"two"):
            await nc.publish("failing", data)
        await eventually(lambda: _async(got == [b"one", b"two"]), what="the messages around the failing one")
        assert nc.is_connected
    finally:
        await nc.close()


async def test_a_direct_subscription_is_restored_after_the_server_restarts(tmp_path: Path) -> None:
    server = EmbeddedNats(data_dir=tmp_path / "nats")
    server.start()
    nc = await connect(NatsSettings(url=server.url, reconnect_wait_s=0.1), name="direct-restart")
    got: list[bytes] = []
    try:
        await subscribe_direct(nc, "restart", lambda msg: got.append(msg.data))
        server.stop()
        server.start()

        async def published_and_received() -> bool:  # the subscription is restored just after the reconnect
            if nc.is_connected:
                await nc.publish("restart", b"after")
            return b"after" in got

        await eventually(published_and_received, interval_s=0.2, what="a message after the restart")
        assert set(got) == {b"after"}
    finally:
        await nc.close()
        server.stop()


async def _async(value: bool) -> bool:
    return value
