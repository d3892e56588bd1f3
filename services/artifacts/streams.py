"""Byte streams that hash and count what passes through them, so nothing is hashed after the fact.

Uploads read the object through a ``HashingReader`` (the object store calls ``readinto`` chunk by chunk);
downloads write into a ``HashingWriter`` (the object store's ``writeinto``), which stops a download that grows
past its limit. Neither holds more than one chunk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import IO


class HashingWriter:
    """Writes to ``out``, hashing and counting; ``too_large(received)`` is raised past ``max_bytes``."""

    def __init__(self, out: IO[bytes], *, max_bytes: int, too_large: Callable[[int], Exception]) -> None:
        self._out = out
        self._max_bytes = max_bytes
        self._too_large = too_large
        self.received = 0
        self.sha256 = hashlib.sha256()

    def write(self, chunk: bytes, /) -> int:
        self.received += len(chunk)
        if self.received > self._max_bytes:
            raise self._too_large(self.received)
        self.sha256.update(chunk)
        return self._out.write(chunk)

    def tell(self) -> int:
        """Bytes written so far (``tarfile`` asks where it is)."""
        return self.received

    def flush(self) -> None:
        self._out.flush()


class HashingReader:
    """Reads from ``source``, hashing and counting what was read."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.read_bytes = 0
        self.sha256 = hashlib.sha256()

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._source.readinto(buffer)  # type: ignore[attr-defined]  # every binary file has readinto
        if n:
            self.read_bytes += n
            self.sha256.update(memoryview(buffer)[:n])
        return n or 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.read_bytes += len(data)
        self.sha256.update(data)
        return data
