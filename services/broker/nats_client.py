"""The nats-py client every Handoff connection uses, with less Python per message received.

**Headers.** nats-py checks each header name for whitespace character by character, with a generator
expression, for every header of every message: about 270 Python calls per task in the generator's loop, a tenth
of its CPU. Handoff's messages carry the same few header names over and over, so here a name is checked once and
remembered. ``parse_header_lines`` gives the same dict as nats-py's ``Client._parse_header_lines`` for any input
(a test compares the two on generated header blocks): lines split on CRLF, a line without ``:`` skipped, the
name stripped and ASCII (else skipped) with no whitespace inside (else skipped), the value stripped and decoded
as UTF-8 with replacement characters.

**Direct delivery.** nats-py hands each message of a subscription with a callback to a queue, which an asyncio
task per subscription empties, calling the callback as a coroutine: a future, a task wake-up and a coroutine per
message. Handoff's busiest subscriptions (the replies to its requests, the messages of its pull requests) only
route a message to whoever waits for it, without awaiting anything; ``subscribe_direct`` calls such a handler
as the message is read. A handler must not block and must not raise (a defect it raises is logged and the
message is lost). With any other nats-py client (tests pass their own) ``subscribe_direct`` falls back to an
ordinary callback.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = structlog.get_logger(__name__)

_CRLF = b"\r\n"
MAX_NAMES = 1024
"""Header names remembered; past that the memory starts over (names are few: Handoff's and the server's)."""

_names: dict[bytes, str | None] = {}


def _name_of(raw: bytes) -> str | None:
    """The header name of the bytes before a line's ``:``, or None when nats-py would skip the line."""
    try:
        key = raw.strip().decode("ascii")
    except UnicodeDecodeError:
        return None
    if key and key.split() != [key]:  # whitespace inside (str.isspace, as nats-py checks it)
        return None
    return key


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """``Name: Value`` lines of a header block (after the ``NATS/1.0`` line) as a dict, as nats-py parses them."""
    out: dict[str, str] = {}
    names = _names
    for line in raw.split(_CRLF):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = names[name]
        except KeyError:
            key = _name_of(name)
            if len(names) >= MAX_NAMES:
                names.clear()
            names[name] = key
        if key is None:
            continue
        out[key] = value.strip().decode("utf-8", "replace")
    return out


Handler = Callable[[Msg], None]


class Client(NatsClient):
    """nats-py's client with ``parse_header_lines`` for its header parsing, and direct delivery."""

    _parse_header_lines = staticmethod(parse_header_lines)

    def __init__(self) -> None:
        super().__init__()
        self._direct: dict[int, Handler] = {}

    async def _subscribe_direct(self, subject: str, handler: Handler) -> Subscription:
        sub = await self.subscribe(subject)  # no callback: nats-py's queue for next_msg() stays empty
        self._direct[sub._id] = handler
        while not sub._pending_queue.empty():  # anything read before the handler was registered
            handler(sub._pending_queue.get_nowait())
        return sub

    def _remove_sub(self, sid: int, max_msgs: int = 0) -> None:
        self._direct.pop(sid, None)
        super()._remove_sub(sid, max_msgs)

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        handler = self._direct.get(sid)
        if handler is None:
            await super()._process_msg(sid, subject, reply, data, headers)
            return
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        msg = self._build_message(sid, subject, reply, data, await self._process_headers(headers))
        try:
            handler(msg)
        except Exception:  # a defect in a handler: logged, as nats-py reports a failing callback, and reading goes on
            log.exception("a subscription's handler failed; its message is lost", subject=msg.subject)


async def subscribe_direct(nc: NatsClient, subject: str, handler: Handler) -> Subscription:
    """Subscribe ``handler`` (synchronous, quick, never raising) to ``subject``: called as each message is read
    on Handoff's client, from an ordinary callback on any other nats-py client."""
    if isinstance(nc, Client):
        return await nc._subscribe_direct(subject, handler)

    async def callback(msg: Msg) -> None:
        handler(msg)

    return await nc.subscribe(subject, cb=callback)
