"""The one retry policy for broker calls: what is transient, and retrying against a real server that goes away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from handoff.broker.embedded import EmbeddedNats
from handoff.common.broker_retry import Backoff, BrokerUnavailable, StopReason, is_transient, retry_broker_call
from tests.support.nats import eventually

SUBJECT = "retrytest.one"


@pytest.mark.parametrize(
    "error",
    [
        nats.errors.TimeoutError(),
        TimeoutError(),  # some nats-py calls raise the bare builtin one
        nats.errors.FlushTimeoutError(),
        nats.errors.NoRespondersError(),
        nats.errors.ConnectionReconnectingError(),
        nats.errors.StaleConnectionError(),
        nats.errors.OutboundBufferLimitError(),
        nats.js.errors.NoStreamResponseError(),
        nats.js.errors.ServiceUnavailableError(code=503, description="JetStream system temporarily unavailable"),
        nats.js.errors.ServerError(code=500, description="internal error"),
    ],
    ids=type,
)
def test_errors_that_mean_the_broker_is_not_answering_yet_are_transient(error: BaseException) -> None:
    """Timeouts, missing responders, reconnecting, a silent stream and 5xx answers are worth another try."""
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        nats.errors.ConnectionClosedError(),
        nats.errors.ConnectionDrainingError(),
        nats.errors.BadSubjectError(),
        nats.errors.MaxPayloadError(),
        nats.errors.NoServersError(),
        nats.js.errors.NotFoundError(code=404, description="stream not found"),
        nats.js.errors.BadRequestError(code=400, description="bad request"),
        nats.js.errors.KeyWrongLastSequenceError(description="wrong last sequence"),
        nats.js.errors.APIError(code=409, description="conflict"),
        ValueError("not a broker error"),
    ],
    ids=type,
)
def test_errors_that_mean_the_request_is_wrong_or_the_connection_is_gone_are_not_transient(
    error: BaseException,
) -> None:
    """A 4xx answer, a closed connection, a bad subject or payload is permanent: retrying cannot help."""
    assert not is_transient(error)


def test_a_backoff_grows_to_its_cap_and_each_wait_is_jittered_below_it() -> None:
    """Waits double from first_s up to max_s; jitter draws each from [wait * (1 - jitter), wait]."""
    waits = Backoff(first_s=0.1, max_s=0.4, jitter=0.5).waits()
    drawn = [next(waits) for _ in range(6)]
    for got, cap in zip(drawn, [0.1, 0.2, 0.4, 0.4, 0.4, 0.4], strict=True):
        assert cap * 0.5 <= got <= cap
    assert len(set(drawn)) > 1
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(first_s=1.0, max_s=0.5)


@pytest.fixture
async def stream(js: JetStreamContext, nc: NATS, nats_server: EmbeddedNats) -> AsyncIterator[JetStreamContext]:
    """A file-backed stream; at teardown the server is running again and the client reconnected (a clean close
    needs a live socket)."""
    await js.add_stream(StreamConfig(name="RETRYTEST", subjects=["retrytest.>"], storage=StorageType.FILE))
    yield js
    if not nats_server.running:
        await asyncio.to_thread(nats_server.start)

    async def reconnected() -> bool:
        return nc.is_connected

    await eventually(reconnected, timeout_s=20, what="client reconnected")


def counting(js: JetStreamContext, tried: asyncio.Event | None = None, after: int = 2) -> tuple[list[int], object]:
    """A publish with a fixed message id that counts its tries (and sets ``tried`` after ``after`` of them)."""
    tries = [0]

    async def publish() -> object:
        tries[0] += 1
        if tried is not None and tries[0] >= after:
            tried.set()
        return await js.publish(SUBJECT, b"x", timeout=0.3, headers={"Nats-Msg-Id": "one"})

    return tries, publish


async def test_a_call_retried_while_the_server_is_down_gives_up_at_its_deadline(
    nats_server: EmbeddedNats, stream: JetStreamContext
) -> None:
    """With the server down, transient failures are retried until the time budget ends, then BrokerUnavailable."""
    nats_server.kill()
    tries, publish = counting(stream)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BrokerUnavailable) as caught:
        await retry_broker_call(publish, what="publish one", timeout_s=1.5, attempt_timeout_s=0.5)  # type: ignore[arg-type]
    elapsed = loop.time() - started
    assert caught.value.reason is StopReason.TIMEOUT
    assert caught.value.tries == tries[0] >= 2
    assert is_transient(caught.value.last)  # type: ignore[arg-type]
    assert 1.5 <= elapsed < 1.5 + 1.0  # the budget bounds the whole call, tries and waits together
    assert "publish one" in str(caught.value)


async def test_a_call_retried_while_the_server_is_down_succeeds_once_it_is_back(
    nats_server: EmbeddedNats, stream: JetStreamContext
) -> None:
    """Tries fail while the server is down; after it restarts, a retry lands and the message is stored once."""
    tried = asyncio.Event()
    tries, publish = counting(stream, tried, after=3)
    nats_server.kill()
    call = asyncio.create_task(
        retry_broker_call(publish, what="publish one", timeout_s=60, attempt_timeout_s=1.0)  # type: ignore[arg-type]
    )
    await asyncio.wait_for(tried.wait(), 30)
    assert not call.done()
    await asyncio.to_thread(nats_server.start)
    ack = await asyncio.wait_for(call, 60)
    assert ack.stream == "RETRYTEST" and tries[0] >= 3
    info = await stream.stream_info("RETRYTEST")
    assert info.state.messages == 1


async def test_an_abort_stops_retrying_at_once(nats_server: EmbeddedNats, stream: JetStreamContext) -> None:
    """Setting the abort event ends a call that would otherwise retry forever, with reason 'aborted'."""
    tried, abort = asyncio.Event(), asyncio.Event()
    _, publish = counting(stream, tried, after=2)
    nats_server.kill()
    call = asyncio.create_task(
        retry_broker_call(publish, what="publish one", abort=abort, attempt_timeout_s=0.5)  # type: ignore[arg-type]
    )
    await asyncio.wait_for(tried.wait(), 30)
    abort.set()
    with pytest.raises(BrokerUnavailable) as caught:
        await asyncio.wait_for(call, 5)
    assert caught.value.reason is StopReason.ABORTED


async def test_attempts_cap_the_number_of_tries(nats_server: EmbeddedNats, stream: JetStreamContext) -> None:
    """With attempts=3 the call is tried three times, then stops with reason 'attempts'."""
    tries, publish = counting(stream)
    nats_server.kill()
    with pytest.raises(BrokerUnavailable) as caught:
        await retry_broker_call(publish, what="publish one", attempts=3, attempt_timeout_s=0.5)  # type: ignore[arg-type]
    assert caught.value.reason is StopReason.ATTEMPTS and tries[0] == 3


async def test_a_permanent_error_is_raised_at_once_without_a_retry(js: JetStreamContext) -> None:
    """A real 'stream not found' answer propagates unchanged after one try."""
    tries = [0]

    async def info() -> object:
        tries[0] += 1
        return await js.stream_info("NO_SUCH_STREAM")

    with pytest.raises(nats.js.errors.NotFoundError):
        await retry_broker_call(info, what="stream info", timeout_s=10)
    assert tries[0] == 1
