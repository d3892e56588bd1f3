"""Requests over the connection's own reply subscription: JetStream publishes and direct gets answer as nats-py's
calls do, with nats-py's error types, so the one definition of transient still applies."""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from handoff.broker.requests import Requests
from handoff.common.broker_retry import is_transient

STREAM = "REQ"


@pytest.fixture
async def stream(js: JetStreamContext) -> str:
    await js.add_stream(StreamConfig(name=STREAM, subjects=["req.>"], allow_direct=True, duplicate_window=60))
    return STREAM


async def test_a_publish_is_stored_and_a_repeated_message_id_comes_back_as_a_duplicate(
    nc: NATS, js: JetStreamContext, stream: str
) -> None:
    """The ack names the stream and sequence; the same Nats-Msg-Id again is the same message, marked duplicate."""
    requests = Requests(nc)
    async with asyncio.timeout(10):
        first = await requests.publish("req.a", b"one", headers={"Nats-Msg-Id": "m-1"})
        again = await requests.publish("req.a", b"one", headers={"Nats-Msg-Id": "m-1"})
        second = await requests.publish("req.a", b"two")
    assert (first.stream, first.seq, first.duplicate) == (stream, 1, None)
    assert (again.seq, again.duplicate) == (1, True)
    assert second.seq == 2
    stored = await js.get_msg(stream, 2)
    assert stored.data == b"two"
    await requests.close()


async def test_a_publish_no_stream_holds_is_the_transient_no_stream_response(nc: NATS, stream: str) -> None:
    """Nobody answers a subject outside every stream: nats-py's NoStreamResponseError, which is retried."""
    requests = Requests(nc)
    async with asyncio.timeout(10):
        with pytest.raises(nats.js.errors.NoStreamResponseError) as info:
            await requests.publish("elsewhere.a", b"x")
    assert is_transient(info.value)
    assert requests.waiting == 0
    await requests.close()


async def test_a_refused_publish_raises_the_api_error_the_stream_answered(nc: NATS, stream: str) -> None:
    """A failed expectation (wrong last sequence) is the stream's 400 as nats-py's BadRequestError: not transient."""
    requests = Requests(nc)
    await requests.publish("req.b", b"x")
    async with asyncio.timeout(10):
        with pytest.raises(nats.js.errors.BadRequestError) as info:
            await requests.publish("req.b", b"y", headers={"Nats-Expected-Last-Subject-Sequence": "7"})
    assert info.value.err_code == 10071 and not is_transient(info.value)
    await requests.close()


async def test_the_last_message_on_a_subject_comes_back_with_its_subject_and_sequence(
    nc: NATS, js: JetStreamContext, stream: str
) -> None:
    """A direct get: the last message of the subject, None for a subject without messages."""
    await js.publish("req.c", b"old", headers={"X-Mine": "1"})
    await js.publish("req.d", b"other")
    await js.publish("req.c", b"new", headers={"X-Mine": "2"})
    requests = Requests(nc)
    async with asyncio.timeout(10):
        found = await requests.last_on_subject(stream, "req.c")
        absent = await requests.last_on_subject(stream, "req.none")
    assert found is not None and (found.subject, found.seq, found.data) == ("req.c", 3, b"new")
    assert found.headers is not None and found.headers["X-Mine"] == "2"
    assert absent is None
    await requests.close()


async def test_a_stream_without_direct_gets_has_no_responders(nc: NATS, js: JetStreamContext) -> None:
    """No direct gets allowed: NoRespondersError at once, so the caller can ask the API instead."""
    await js.add_stream(StreamConfig(name="PLAIN", subjects=["plain.>"], allow_direct=False))
    await js.publish("plain.a", b"x")
    requests = Requests(nc)
    async with asyncio.timeout(10):
        with pytest.raises(nats.errors.NoRespondersError):
            await requests.last_on_subject("PLAIN", "plain.a")
    await requests.close()


async def test_a_caller_that_gives_up_leaves_nothing_waiting(nc: NATS, stream: str) -> None:
    """A request cancelled by its caller's deadline stops routing its replies (a late one is dropped)."""
    requests = Requests(nc)
    await nc.subscribe("quiet.silent", cb=None)  # takes the request, never answers
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await requests.request("quiet.silent")
    assert requests.waiting == 0
    ack = await asyncio.wait_for(requests.publish("req.e", b"x"), 10)  # the connection's routes still work
    assert ack.seq >= 1
    await requests.close()
