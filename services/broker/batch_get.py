"""The last message of several subjects of a stream in one request: a JetStream batch direct get (``multi_last``).

nats-py has no call for it (its request resolves on the first reply, and this request has several), so the
replies are collected here: one wildcard reply subscription per connection, made on first use, a future per
request. The stream answers with the matching messages in stream order and ends with an end-of-batch status
(204), whose ``Nats-Num-Pending`` says whether the batch held everything; 404 means nothing matched.

A stream that does not allow direct gets has no responder (``NoRespondersError``); a server without batch gets
answers with an error status (``BatchGetUnsupported``). Callers then ask one subject at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import RawStreamMsg

from handoff.schemas import names

H = names.Header


class BatchGetUnsupported(Exception):
    """The server answered the batch get with an error status (an older server, or a malformed request)."""


@dataclass(frozen=True, slots=True)
class LastMessages:
    messages: list[RawStreamMsg]
    """The last message of each matching subject, in stream order."""
    complete: bool
    """False when more subjects matched than the batch held (the rest were not sent)."""


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[LastMessages]
    messages: list[RawStreamMsg] = field(default_factory=list)


class BatchGet:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = ""
        self._sub: Subscription | None = None
        self._subscribing: asyncio.Lock = asyncio.Lock()
        self._ids = itertools.count()
        self._waiting: dict[str, _Pending] = {}

    async def last_per_subject(self, stream: str, subjects: Sequence[str], *, batch: int) -> LastMessages:
        """The last message of every subject matching ``subjects`` (wildcards allowed), at most ``batch`` of them.

        Not bounded in time: the caller bounds it (a request sent while reconnecting may never be answered).
        """
        if self._sub is None:
            async with self._subscribing:
                if self._sub is None:
                    self._prefix = self._nc.new_inbox()
                    self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_reply)
        token = str(next(self._ids))
        pending = _Pending(asyncio.get_running_loop().create_future())
        self._waiting[token] = pending
        body = json.dumps({"multi_last": list(subjects), "batch": batch}).encode()
        try:
            await self._nc.publish(names.direct_get_subject(stream), body, reply=f"{self._prefix}.{token}")
            return await pending.future
        finally:
            del self._waiting[token]

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            await sub.unsubscribe()

    async def _on_reply(self, msg: Msg) -> None:
        pending = self._waiting.get(msg.subject[len(self._prefix) + 1 :])
        if pending is None or pending.future.done():
            return  # the caller gave up (timeout): a late reply
        headers = msg.headers or {}
        status = headers.get(H.STATUS)
        if status is None:
            pending.messages.append(
                RawStreamMsg(
                    subject=headers.get(H.STREAM_SUBJECT),
                    seq=int(headers.get(H.STREAM_SEQUENCE, "0")),
                    data=msg.data,
                    headers=headers,
                )
            )
        elif status == "204":  # end of batch
            complete = headers.get(H.NUM_PENDING, "0") == "0"
            pending.future.set_result(LastMessages(pending.messages, complete))
        elif status == "404":  # nothing matched
            pending.future.set_result(LastMessages([], True))
        elif status == "503":
            pending.future.set_exception(nats.errors.NoRespondersError())
        elif status == "408":
            pending.future.set_exception(nats.errors.TimeoutError())
        else:
            detail = " ".join(f"{k}: {v}" for k, v in headers.items() if k != H.STATUS)
            pending.future.set_exception(BatchGetUnsupported(f"batch direct get answered {status} ({detail})"))
