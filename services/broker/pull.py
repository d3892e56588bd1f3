"""Pulling from a durable JetStream consumer with plain pull requests, for a consumer that takes one batch at a time.

nats-py's ``fetch`` waits for each message of a batch with a new asyncio task (and a uuid for its name); here the
messages of a pull request land through one subscription callback in a list, and the request ends when the batch
is full or the server says it is over (404 no messages, 408 expired, 409 consumer changed). Messages are nats-py
``Msg`` objects as usual (``ack``, ``nak``, ``metadata``). A message that arrives after its request ended (the
client gave up first) is kept for the next ``fetch``, never dropped.

Each request has its own reply subject, so a late status of an earlier request does not end a later one.
"""

from __future__ import annotations

import asyncio
import itertools
import json

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from handoff.broker.nats_client import subscribe_direct
from handoff.schemas import names

H = names.Header
HEARTBEAT = "100"
MARGIN_S = 0.05
"""How much longer than the request's expiry the client waits for the server's word that it expired."""


class Puller:
    def __init__(self, nc: NATS, *, stream: str, consumer: str) -> None:
        self._nc = nc
        self._subject = names.pull_next_subject(stream, consumer)
        self._prefix = ""
        self._sub: Subscription | None = None
        self._ids = itertools.count()
        self._request = ""  # the reply token of the request being waited for
        self._want = 0
        self._got: list[Msg] = []
        self._over: asyncio.Event = asyncio.Event()

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox()
        self._sub = await subscribe_direct(self._nc, f"{self._prefix}.*", self._on_msg)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and not self._nc.is_closed:
            await sub.unsubscribe()

    async def fetch(self, batch: int, *, timeout_s: float, no_wait: bool = False) -> list[Msg]:
        """Up to ``batch`` messages: what arrives within ``timeout_s`` (``no_wait``: only what is there now).

        Returns early once the batch is full or the server ends the request; an empty list when nothing came.
        Messages that arrived late for an earlier request come first, and then no new request is made.
        """
        if self._sub is None:
            raise RuntimeError("Puller.start() first")
        if self._got:
            got, self._got = self._got[:batch], self._got[batch:]
            return got
        token = str(next(self._ids))
        self._request, self._want = token, batch
        self._over.clear()
        request: dict[str, object] = {"batch": batch}
        if no_wait:
            request["no_wait"] = True
        else:
            request["expires"] = int(timeout_s * 1e9)
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=f"{self._prefix}.{token}")
        try:
            async with asyncio.timeout(timeout_s + MARGIN_S):
                await self._over.wait()
        except TimeoutError:
            pass  # the server did not answer in time (reconnecting): what came so far, the rest comes later
        finally:
            self._request = ""
        got, self._got = self._got[:batch], self._got[batch:]
        return got

    @property
    def buffered(self) -> int:
        """Messages that arrived after their request ended, waiting for the next ``fetch``."""
        return len(self._got)

    async def fetch_any(self, batch: int, *, timeout_s: float) -> list[Msg]:
        """Up to ``batch`` messages as soon as there is one: what is there now, else the first to arrive within
        ``timeout_s`` (a request for one, so that no request is left open for messages nobody waits for)."""
        got = await self.fetch(batch, timeout_s=timeout_s, no_wait=True)
        return got or await self.fetch(1, timeout_s=timeout_s)

    def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get(H.STATUS) if msg.headers else None
        if status is None:
            self._got.append(msg)
            if len(self._got) >= self._want:
                self._over.set()
            return
        if status == HEARTBEAT:
            return
        if msg.subject == f"{self._prefix}.{self._request}":  # 404, 408, 409: this request is over
            self._over.set()
