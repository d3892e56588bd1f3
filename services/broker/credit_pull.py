"""Pulling continuously from a durable JetStream consumer: pull requests kept open for exactly as many messages as
the owner can take, each message handed over as it is read.

A replica that runs each submit in a slot of its own asks for one message per free slot (``ask``), and keeps
those requests open while it waits: when a slot frees, it asks for one more at once, without waiting for an
earlier request to end, and the server delivers the next submit as soon as the consumer's window
(``max_ack_pending``) lets it. ``outstanding`` is what has been asked for and neither delivered nor ended, so the
owner never asks for more than it can take: free slots - outstanding.

A request ends when all its messages have come, when the server says so (404 no messages, 408 expired, 409 the
consumer changed or has too many waiting requests: ``on_ended`` is called) or, if the server never answers (the
connection was lost meanwhile), ``MARGIN_S`` after its expiry, when the client forgets it. A message of a request
the client has forgotten is still handed over: the owner decides whether it can take it.

Each request has its own reply subject under one inbox, so every message and status is counted against the
request it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from handoff.broker.nats_client import subscribe_direct
from handoff.schemas import names

H = names.Header
HEARTBEAT = "100"
MARGIN_S = 0.05
"""How long after a request's expiry the client still waits for the server's word that it ended."""

OnMessage = Callable[[Msg], None]
OnEnded = Callable[[str, str], None]
"""Called with the status (``404``, ``408``, ``409``) and its description when the server ends a request."""


@dataclass(slots=True)
class _Request:
    remaining: int
    forget_at: float


class Credits:
    """How many messages the open pull requests still owe, in total and (estimated) per request.

    A delivered message does not say which request it answers, so it is taken off the oldest request still owed
    something. The total is exact: when a request ends, the server says how many of its messages never came
    (``pending``), and a difference from the estimate belongs to the other requests. A request thought filled
    is kept (owing 0) until its time is up, so that such a difference has somewhere to go.
    """

    def __init__(self) -> None:
        self._open: dict[str, _Request] = {}  # oldest first
        self.total = 0

    def __len__(self) -> int:
        """Requests still owed something."""
        return sum(1 for r in self._open.values() if r.remaining)

    def asked(self, token: str, count: int, *, forget_at: float) -> None:
        self._open[token] = _Request(count, forget_at)
        self.total += count

    def delivered(self, count: int = 1) -> None:
        for request in self._open.values():
            if count == 0:
                return
            taken = min(count, request.remaining)
            request.remaining -= taken
            self.total -= taken
            count -= taken

    def ended(self, token: str, *, pending: int | None) -> None:
        """The server ended ``token``'s request with ``pending`` of its messages not sent (None: not said)."""
        request = self._open.pop(token, None)
        thought = 0 if request is None else request.remaining
        self.total -= thought
        if pending is None:
            return
        extra = thought - pending  # > 0: it got more than counted, so the others got less; < 0: the reverse
        if extra > 0 and self._open:
            oldest = next(iter(self._open.values()))
            oldest.remaining += extra
            self.total += extra
        elif extra < 0:
            self.delivered(-extra)

    def forget(self, token: str) -> None:
        request = self._open.pop(token, None)
        if request is not None:
            self.total -= request.remaining

    def forget_due(self, now: float) -> None:
        """Forget the requests whose time is up without a word from the server."""
        for token in [t for t, r in self._open.items() if r.forget_at <= now]:
            self.forget(token)

    def next_forget_at(self) -> float | None:
        return min((r.forget_at for r in self._open.values() if r.remaining), default=None)


class CreditPull:
    def __init__(self, nc: NATS, *, stream: str, consumer: str, on_message: OnMessage, on_ended: OnEnded) -> None:
        self._nc = nc
        self._subject = names.pull_next_subject(stream, consumer)
        self._on_message = on_message
        self._on_ended = on_ended
        self._prefix = ""
        self._sub: Subscription | None = None
        self._tokens = itertools.count()
        self._credits = Credits()
        self._changed = asyncio.Event()  # a request ended, or the last one was filled

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox()
        self._sub = await subscribe_direct(self._nc, f"{self._prefix}.*", self._on_msg)

    async def stop(self) -> None:
        """Unsubscribe. Requests still open on the server lose their interest and are dropped by it; a message
        it sent meanwhile is redelivered after the consumer's ack wait (wait for ``drained`` first to avoid it)."""
        sub, self._sub = self._sub, None
        self._credits = Credits()
        if sub is not None and not self._nc.is_closed:
            await sub.unsubscribe()

    @property
    def outstanding(self) -> int:
        """Messages asked for that have neither come nor been ended (requests past their time are forgotten)."""
        self._credits.forget_due(asyncio.get_running_loop().time())
        return self._credits.total

    @property
    def requests_open(self) -> int:
        """Requests still owed a message."""
        self._credits.forget_due(asyncio.get_running_loop().time())
        return len(self._credits)

    def next_forget_in_s(self) -> float | None:
        """Seconds until the earliest open request is forgotten if the server says nothing; None: none is open."""
        at = self._credits.next_forget_at()
        return None if at is None else max(0.0, at - asyncio.get_running_loop().time())

    async def ask(self, count: int, *, expires_s: float) -> None:
        """One pull request for ``count`` more messages, open for ``expires_s`` on the server."""
        if self._sub is None:
            raise RuntimeError("CreditPull.start() first")
        if count <= 0:
            return
        token = format(next(self._tokens), "x")
        self._credits.asked(token, count, forget_at=asyncio.get_running_loop().time() + expires_s + MARGIN_S)
        request = json.dumps({"batch": count, "expires": int(expires_s * 1e9)}).encode()
        try:
            await self._nc.publish(self._subject, request, reply=f"{self._prefix}.{token}")
        except BaseException:
            self._credits.forget(token)
            raise

    async def drained(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until no request is owed anything: each is filled or ends, or is forgotten
        after its time."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while self.outstanding:
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.next_forget_in_s()):
                            await self._changed.wait()

    def _on_msg(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get(H.STATUS) if headers else None
        if status is None:
            # A delivered message carries its stream subject, not the request's reply subject.
            self._credits.delivered()
            if not self._credits.total:
                self._changed.set()
            self._on_message(msg)
            return
        if status == HEARTBEAT or headers is None:
            return
        pending = headers.get(H.PENDING_MESSAGES, "")
        token = msg.subject[len(self._prefix) + 1 :]
        self._credits.ended(token, pending=int(pending) if pending.isdigit() else None)
        self._changed.set()
        self._on_ended(status, headers.get(H.DESCRIPTION, ""))
