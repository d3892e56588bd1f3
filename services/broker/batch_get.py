"""The last message of several subjects of a stream in one request: a JetStream batch direct get (``multi_last``).

nats-py has no call for it (its request resolves on the first reply, and this request has several): the replies
are collected here, routed by the connection's one reply subscription (``handoff.broker.requests``). The stream
answers with the matching messages in stream order and ends with an end-of-batch status (204), whose
``Nats-Num-Pending`` says whether the batch held everything; 404 means nothing matched.

A stream that does not allow direct gets has no responder (``NoRespondersError``); a server without batch gets
answers with an error status (``BatchGetUnsupported``). Callers then ask one subject at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js.api import RawStreamMsg

from handoff.broker.requests import Requests, status_of, stored_message
from handoff.schemas import names

H = names.Header
_encode = msgspec.json.encode


class BatchGetUnsupported(Exception):
    """The server answered the batch get with an error status (an older server, or a malformed request)."""


@dataclass(frozen=True, slots=True)
class LastMessages:
    messages: list[RawStreamMsg]
    """The last message of each matching subject, in stream order."""
    complete: bool
    """False when more subjects matched than the batch held (the rest were not sent)."""


class BatchGet:
    def __init__(self, requests: Requests) -> None:
        self._requests = requests

    async def last_per_subject(self, stream: str, subjects: Sequence[str], *, batch: int) -> LastMessages:
        """The last message of every subject matching ``subjects`` (wildcards allowed), at most ``batch`` of them.

        Not bounded in time: the caller bounds it (a request sent while reconnecting may never be answered).
        """
        future: asyncio.Future[LastMessages] = asyncio.get_running_loop().create_future()
        messages: list[RawStreamMsg] = []

        def on_reply(msg: Msg) -> None:
            if future.done():
                return
            status = status_of(msg)
            if status is None:
                messages.append(stored_message(msg))
            elif status == "204":  # end of batch
                complete = (msg.headers or {}).get(H.NUM_PENDING, "0") == "0"
                future.set_result(LastMessages(messages, complete))
            elif status == "404":  # nothing matched
                future.set_result(LastMessages([], True))
            elif status == "503":
                future.set_exception(nats.errors.NoRespondersError())
            elif status == "408":
                future.set_exception(nats.errors.TimeoutError())
            else:
                detail = " ".join(f"{k}: {v}" for k, v in (msg.headers or {}).items() if k != H.STATUS)
                future.set_exception(BatchGetUnsupported(f"batch direct get answered {status} ({detail})"))

        body = _encode({"multi_last": list(subjects), "batch": batch})
        token = await self._requests.send(names.direct_get_subject(stream), body, on_reply)
        try:
            return await future
        finally:
            self._requests.forget(token)
