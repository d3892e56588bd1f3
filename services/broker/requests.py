"""Requests to the broker over one reply subscription per connection: JetStream publishes and direct gets without
nats-py's cost per request.

nats-py's request path spends, on every call, an inbox token from its nuid generator, an ``asyncio.wait_for``
and, for JetStream, a JSON parse into its dataclasses (a direct get also parses the stored time with a regular
expression). At thousands of calls per second that is a large share of a replica's CPU beyond the socket. Here a
call costs a counter token and a future; acks decode with msgspec.

Replies land through one wildcard subscription, made on first use (nats-py restores it after a reconnect); a
reply that arrives after its caller gave up is dropped. **No call here is bounded in time**: every caller bounds
its broker calls with the one retry policy (``handoff.common.broker_retry``), whose per-attempt timeout also
covers a request queued while the connection reconnects.

Failures are nats-py's own types, so the one definition of transient holds: no responders is
``NoRespondersError`` (``NoStreamResponseError`` for a publish, as nats-py raises), a JetStream error answer is
its ``APIError`` subclass (``from_error``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import PubAck, RawStreamMsg

from handoff.broker.nats_client import subscribe_direct
from handoff.schemas import names

H = names.Header
WRONG_LAST_SEQUENCE = 10071
"""JetStream's error code for a publish whose expected last subject sequence did not hold."""

OnReply = Callable[[Msg], None]
"""Called with every reply to one request, until the caller stops waiting."""


class _Ack(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    domain: str | None = None
    error: dict[str, object] | None = None


_ack_decoder = msgspec.json.Decoder(_Ack)


def status_of(msg: Msg) -> str | None:
    """The status of a reply without data (``503`` no responders, ``404`` not found...), else None."""
    if msg.data:
        return None
    return (msg.headers or {}).get(H.STATUS)


class Requests:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = ""
        self._sub: Subscription | None = None
        self._subscribing = asyncio.Lock()
        self._tokens = itertools.count()
        self._waiting: dict[str, OnReply] = {}

    async def send(self, subject: str, data: bytes, on_reply: OnReply, *, headers: dict[str, str] | None = None) -> str:
        """Send a request whose replies go to ``on_reply``; returns the token to pass to ``forget`` when done."""
        if self._sub is None:
            async with self._subscribing:
                if self._sub is None:
                    self._prefix = self._nc.new_inbox()
                    self._sub = await subscribe_direct(self._nc, f"{self._prefix}.*", self._on_reply)
        token = format(next(self._tokens), "x")
        self._waiting[token] = on_reply
        try:
            await self._nc.publish(subject, data, reply=f"{self._prefix}.{token}", headers=headers)
        except BaseException:
            self._waiting.pop(token, None)
            raise
        return token

    @property
    def waiting(self) -> int:
        """Requests whose replies are still routed."""
        return len(self._waiting)

    def forget(self, token: str) -> None:
        """Stop routing replies of this request (a late one is dropped)."""
        self._waiting.pop(token, None)

    async def request(self, subject: str, data: bytes = b"", *, headers: dict[str, str] | None = None) -> Msg:
        """The first reply to a request. ``NoRespondersError`` when nobody listens on ``subject``."""
        future: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()

        def on_reply(msg: Msg) -> None:
            if not future.done():
                future.set_result(msg)

        token = await self.send(subject, data, on_reply, headers=headers)
        try:
            msg = await future
        finally:
            self.forget(token)
        if status_of(msg) == "503":
            raise nats.errors.NoRespondersError
        return msg

    async def publish(self, subject: str, data: bytes, *, headers: dict[str, str] | None = None) -> PubAck:
        """A JetStream publish, awaited until the stream acknowledges it (``duplicate`` for a repeated msg id)."""
        try:
            msg = await self.request(subject, data, headers=headers)
        except nats.errors.NoRespondersError:
            raise nats.js.errors.NoStreamResponseError from None
        ack = _ack_decoder.decode(msg.data)
        if ack.error is not None:
            nats.js.errors.APIError.from_error(ack.error)  # raises the matching subclass
        return PubAck(stream=ack.stream, seq=ack.seq, domain=ack.domain, duplicate=ack.duplicate or None)

    async def put_if(self, bucket: str, key: str, data: bytes, *, revision: int) -> int:
        """Write ``key`` of a KV bucket only while its last revision is ``revision`` (0: it has none); the new
        revision. ``KeyWrongLastSequenceError`` when it has another, as nats-py's ``create`` and ``update`` raise.

        Unlike nats-py's ``create``, revision 0 does not look for a delete marker to write over: the caller passes
        the marker's revision (a compare-and-set on what it read)."""
        headers = {H.EXPECTED_LAST_SUBJECT_SEQUENCE.value: str(revision)}
        try:
            ack = await self.publish(names.kv_record_subject(bucket, key), data, headers=headers)
        except nats.js.errors.APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                raise nats.js.errors.KeyWrongLastSequenceError(exc.description) from exc
            raise
        return ack.seq

    async def last_on_subject(self, stream: str, subject: str) -> RawStreamMsg | None:
        """The last message on ``subject`` (a literal subject) with a direct get, or None when there is none.
        ``NoRespondersError`` when the stream does not allow direct gets."""
        msg = await self.request(f"{names.direct_get_subject(stream)}.{subject}")
        status = status_of(msg)
        if status == "404":
            return None
        if status is not None:
            raise nats.js.errors.APIError(code=int(status) if status.isdigit() else None, description=str(msg.headers))
        return stored_message(msg)

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        self._waiting.clear()
        if sub is not None and not self._nc.is_closed:
            await sub.unsubscribe()

    def _on_reply(self, msg: Msg) -> None:
        on_reply = self._waiting.get(msg.subject[len(self._prefix) + 1 :])
        if on_reply is not None:
            on_reply(msg)


def stored_message(msg: Msg) -> RawStreamMsg:
    """A direct get's answer as the stored message it carries."""
    headers = msg.headers or {}
    return RawStreamMsg(
        subject=headers.get(H.STREAM_SUBJECT),
        seq=int(headers.get(H.STREAM_SEQUENCE, "0")),
        data=msg.data,
        headers=headers,
    )
