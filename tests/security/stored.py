"""Reading back everything the server stores, to look for what must never be there."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats.js.errors
from nats.js import JetStreamContext


async def every_stored_message(js: JetStreamContext) -> AsyncIterator[tuple[str, str, bytes]]:
    """``(stream, subject, headers + data)`` of every message in every stream: events, control, dead letters, KV
    buckets and object-store chunks."""
    for info in await js.streams_info():
        stream = info.config.name
        assert stream is not None
        first, last = max(info.state.first_seq or 0, 1), info.state.last_seq or 0
        for seq in range(first, last + 1):
            try:
                raw = await js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:  # deleted, or replaced (object chunks, KV history)
                continue
            headers = "".join(f"{k}: {v}\n" for k, v in (raw.headers or {}).items()).encode()
            yield stream, raw.subject or "", headers + (raw.data or b"")
