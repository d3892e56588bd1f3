"""Handoff's header parse gives what nats-py's gives, for any header block, and its connections use it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient

from handoff.broker import headers
from handoff.broker.connect import connect
from handoff.broker.embedded import EmbeddedNats
from handoff.common.settings import NatsSettings

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
