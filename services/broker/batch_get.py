"""The last message of several subjects of a stream in one request: a JetStream batch direct get (``multi_last``).

nats-py has no call for it (its request resolves on the first reply, and this request has several): the replies
are collected here, routed by the connection's one reply subscription (``handoff.broker.requests``). The stream
answers with the matching messages in stream order and ends with an end-of-batch status (204), whose
``Nats-Num-Pending`` says whether the batch held everything; 404 means nothing matched.

A stream that does not allow direct gets has no responder (``NoRespondersError``); a server without batch gets
answers with an error status (``BatchGetUnsupported``). Callers then ask one subject at a time.

**Look-ups asked in the same turn of the event loop share one request** per stream: a replica that pulls a batch
of submits starts their executions together, and each asks for its task's state and cancel. The request asks
for every subject any of them named, with room for every answer each could get (the sum of their batches), and
each caller receives the messages matching its own subjects, in stream order: exactly the answer its own request
would have had, since the stream sends the last message of every matching subject of the union. An answer the
shared batch could not hold is incomplete for each caller, which then asks on its own.

``messages_from`` is the other batch direct get: the messages of one subject from a stream sequence on (a task's
progress so far), bounded by a count and a size.
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


@dataclass(slots=True)
class _Asked:
    subjects: Sequence[str]
    batch: int
    answer: asyncio.Future[LastMessages]


class BatchGet:
    def __init__(self, requests: Requests) -> None:
        self._requests = requests
        self._asked: dict[str, list[_Asked]] = {}  # per stream: the look-ups of this loop turn, not sent yet
        self._sending: set[asyncio.Task[None]] = set()

    async def last_per_subject(self, stream: str, subjects: Sequence[str], *, batch: int) -> LastMessages:
        """The last message of every subject matching ``subjects`` (wildcards allowed), at most ``batch`` of them.

        Not bounded in time: the caller bounds it (a request sent while reconnecting may never be answered).
        Giving up on it (a timeout, a cancel) leaves the shared request to the others.
        """
        loop = asyncio.get_running_loop()
        asked = _Asked(subjects, batch, loop.create_future())
        queue = self._asked.setdefault(stream, [])
        queue.append(asked)
        if len(queue) == 1:  # the first of this turn: send once every execution started in this turn has asked
            loop.call_soon(self._send_asked, stream)
        return await asked.answer

    def _send_asked(self, stream: str) -> None:
        queue = self._asked.pop(stream, [])
        live = [asked for asked in queue if not asked.answer.done()]
        if not live:
            return
        # started eagerly: the request goes out in this callback, not one more loop turn later (a freed slot's
        # refill waits for it, behind whatever else the loop has queued meanwhile)
        loop = asyncio.get_running_loop()
        task = asyncio.Task(self._ask(stream, live), loop=loop, name="handoff-batch-get", eager_start=True)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

        waiting = [len(live)]

        def unless_wanted(_: object) -> None:  # every caller gave up (timeouts, shutdown): so does the request
            waiting[0] -= 1
            if waiting[0] == 0 and not task.done():
                task.cancel()

        for one in live:
            one.answer.add_done_callback(unless_wanted)

    async def _ask(self, stream: str, asked: list[_Asked]) -> None:
        subjects = list(dict.fromkeys(subject for one in asked for subject in one.subjects))
        try:
            answer = await self._request(stream, subjects, batch=sum(one.batch for one in asked))
        except (nats.errors.Error, BatchGetUnsupported) as exc:  # each caller retries by its own policy
            _fail(asked, exc)
            return
        except BaseException as exc:  # cancelled (shutdown), or a defect: no caller is left waiting for ever
            _fail(asked, exc)
            raise
        if len(asked) == 1:
            parts = [answer]
        else:
            index = _Index(answer.messages)
            parts = [LastMessages(index.matching(one.subjects), answer.complete) for one in asked]
        for one, part in zip(asked, parts, strict=True):
            if not one.answer.done():
                one.answer.set_result(part)

    async def _request(self, stream: str, subjects: list[str], *, batch: int) -> LastMessages:
        answer = await batch_request(self._requests, stream, {"multi_last": subjects, "batch": batch})
        return LastMessages(answer.messages, answer.pending == 0)


@dataclass(frozen=True, slots=True)
class Batch:
    messages: list[RawStreamMsg]
    """The messages sent, in stream order."""
    pending: int
    """Matching messages the batch did not hold (0: it held all of them)."""


async def messages_from(
    requests: Requests, stream: str, subject: str, *, start_seq: int, batch: int, max_bytes: int
) -> Batch:
    """The messages on ``subject`` (wildcards allowed) from stream sequence ``start_seq`` on, in one batch direct get:
    at most ``batch`` of them and about ``max_bytes`` (the stream stops once it has sent that much). No consumer is
    made. Not bounded in time, as ``last_per_subject``."""
    body = {"seq": max(start_seq, 1), "next_by_subj": subject, "batch": batch, "max_bytes": max_bytes}
    return await batch_request(requests, stream, body)


async def batch_request(requests: Requests, stream: str, body: dict[str, object]) -> Batch:
    """One batch direct get (``body`` as JetStream reads it), its replies collected until the end of the batch."""
    future: asyncio.Future[Batch] = asyncio.get_running_loop().create_future()
    messages: list[RawStreamMsg] = []

    def on_reply(msg: Msg) -> None:
        if future.done():
            return
        status = status_of(msg)
        if status is None:
            messages.append(stored_message(msg))
        elif status == "204":  # end of batch
            pending = (msg.headers or {}).get(H.NUM_PENDING, "0")
            future.set_result(Batch(messages, int(pending) if pending.isdigit() else 1))  # unreadable: not all
        elif status == "404":  # nothing matched
            future.set_result(Batch([], 0))
        elif status == "503":
            future.set_exception(nats.errors.NoRespondersError())
        elif status == "408":
            future.set_exception(nats.errors.TimeoutError())
        else:
            detail = " ".join(f"{k}: {v}" for k, v in (msg.headers or {}).items() if k != H.STATUS)
            future.set_exception(BatchGetUnsupported(f"batch direct get answered {status} ({detail})"))

    token = await requests.send(names.direct_get_subject(stream), _encode(body), on_reply)
    try:
        return await future
    finally:
        requests.forget(token)


def _fail(asked: list[_Asked], exc: BaseException) -> None:
    for one in asked:
        if one.answer.done():
            continue
        if isinstance(exc, asyncio.CancelledError):
            one.answer.cancel()
        else:
            one.answer.set_exception(exc)


class _Index:
    """The messages of a shared answer, found by subject filter without comparing every filter with every message:
    literal subjects by a dict; filters with ``*`` by the message subjects masked at the same tokens."""

    def __init__(self, messages: list[RawStreamMsg]) -> None:
        self._messages = messages
        self._tokens = [(m.subject or "").split(".") for m in messages]
        self._literal: dict[str, list[int]] = {}
        for i, m in enumerate(messages):
            self._literal.setdefault(m.subject or "", []).append(i)
        self._masked: dict[tuple[int, ...], dict[tuple[str, ...], list[int]]] = {}

    def matching(self, subject_filters: Sequence[str]) -> list[RawStreamMsg]:
        """The messages matching any of ``subject_filters``, in stream order."""
        found: set[int] = set()
        for subject_filter in subject_filters:
            found.update(self._matching(subject_filter))
        return [self._messages[i] for i in sorted(found)]

    def _matching(self, subject_filter: str) -> list[int]:
        tokens = subject_filter.split(".")
        if ">" in tokens:
            return [i for i, m in enumerate(self._messages) if names.subject_matches(subject_filter, m.subject or "")]
        mask = tuple(i for i, token in enumerate(tokens) if token == "*")
        if not mask:
            return self._literal.get(subject_filter, [])
        by_masked = self._masked.get(mask)
        if by_masked is None:
            by_masked = {}
            for i, have in enumerate(self._tokens):
                if len(have) == len(tokens):
                    masked = tuple("*" if j in mask else token for j, token in enumerate(have))
                    by_masked.setdefault(masked, []).append(i)
            self._masked[mask] = by_masked
        return by_masked.get(tuple(tokens), [])
