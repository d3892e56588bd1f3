"""Downloading an object one chunk at a time: at most one chunk (128 KiB) in memory, whatever the object's size.

nats-py's ``ObjectStore.get(writeinto=...)`` reads through a push consumer that the server fills faster than the
chunks are written out: downloading a 100 MiB snapshot that way held about 16 MiB of chunks in the
subscription's queue. Here each chunk is asked for with a direct get (the object stores allow them) only after the
previous one was written, so the broker never sends ahead.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.api import ObjectInfo
from nats.js.errors import NotFoundError
from nats.js.object_store import OBJ_CHUNKS_PRE_TEMPLATE, OBJ_STREAM_TEMPLATE


class ObjectVanished(Exception):
    """The object's chunks ran out before all of them were read (deleted or replaced while downloading)."""


async def read_chunks(js: JetStreamContext, bucket: str, info: ObjectInfo, write: Callable[[bytes], object]) -> None:
    """Pass each chunk of the object ``info`` describes to ``write``, in order, one direct get per chunk."""
    stream = OBJ_STREAM_TEMPLATE.format(bucket=bucket)
    subject = OBJ_CHUNKS_PRE_TEMPLATE.format(bucket=bucket, obj=info.nuid)
    seq = 1
    for index in range(info.chunks or 0):
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True, direct=True)
        except NotFoundError:
            raise ObjectVanished(f"{bucket}/{info.name}: chunk {index + 1} of {info.chunks} is gone") from None
        write(msg.data or b"")
        seq = (msg.seq or seq) + 1
