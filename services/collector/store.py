"""Compare-and-set updates of JSON records in a KV bucket, safe with any number of collector replicas.

``update(key, change)`` reads the record (from a small cache when it can), applies ``change``, and writes the
result only if the key still has the revision that was read; on a conflict it reads again and retries. A change
that leaves the record as it was writes nothing, which is what makes redelivered events cheap.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

import msgspec
import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from handoff.broker.requests import Requests

log = structlog.get_logger(__name__)


class RecordCorrupt(Exception):
    """A stored record cannot be decoded; the events for it are retried until an operator repairs the key."""


class ConflictsExhausted(Exception):
    """Other writers kept changing a record faster than this one could update it."""


class RecordStore[R: msgspec.Struct]:
    def __init__(
        self,
        kv: KeyValue,
        decoder: msgspec.json.Decoder[R],
        *,
        cache_size: int,
        attempts: int,
        writes: Requests | None = None,
        bucket: str = "",
        write_timeout_s: float = 5.0,
    ) -> None:
        """``writes``: write through the connection's own reply subscription (``handoff.broker.requests``) into
        ``bucket``, each write bounded by ``write_timeout_s``; None: through nats-py's KV calls."""
        self._kv = kv
        self._writes = writes
        self._bucket = bucket
        self._write_timeout_s = write_timeout_s
        self._decoder = decoder
        self._cache: OrderedDict[str, tuple[R, int]] = OrderedDict()
        self._cache_size = cache_size
        self._attempts = attempts
        self.conflicts = 0
        self.writes = 0

    def cached(self, key: str) -> R | None:
        hit = self._cache.get(key)
        return hit[0] if hit else None

    async def read(self, key: str) -> tuple[R | None, int]:
        """The stored record and its revision (0 when there is none)."""
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError as exc:  # after a delete, ``entry`` is the delete marker: the next write names it
            return None, (exc.entry.revision or 0) if exc.entry is not None else 0
        if not entry.value:
            return None, entry.revision or 0
        try:
            record = self._decoder.decode(entry.value)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise RecordCorrupt(f"record {key!r} (revision {entry.revision}) cannot be decoded: {exc}") from exc
        assert entry.revision is not None
        return record, entry.revision

    async def update(self, key: str, change: Callable[[R | None], R], *, probably_new: bool = False) -> tuple[R, bool]:
        """Apply ``change`` to the current record of ``key``; ``(record, written)``.

        ``probably_new``: the caller expects no record yet (a task's first event), so an uncached key is created
        without reading it first; if it does exist, the create fails and the record is read and folded as usual.
        """
        hit = self._cache.get(key)
        guessed = hit is None and probably_new
        if hit is not None:
            current, revision = hit
        elif guessed:
            current, revision = None, 0
        else:
            current, revision = await self.read(key)
        for _ in range(self._attempts):
            wanted = change(current)
            if current is not None and wanted == current:
                self._remember(key, current, revision)
                return current, False
            data = msgspec.json.encode(wanted)
            try:
                new_revision = await self._write(key, data, revision)
            except KeyWrongLastSequenceError:
                if guessed:
                    guessed = False  # the record existed after all (a redelivery): not a writer conflict
                else:
                    self.conflicts += 1
                self._cache.pop(key, None)
                current, revision = await self.read(key)
                continue
            self.writes += 1
            self._remember(key, wanted, new_revision)
            return wanted, True
        raise ConflictsExhausted(f"record {key!r}: {self._attempts} compare-and-set attempts all conflicted")

    async def _write(self, key: str, data: bytes, revision: int) -> int:
        if self._writes is not None:
            async with asyncio.timeout(self._write_timeout_s):  # TimeoutError: transient, like nats-py's
                return await self._writes.put_if(self._bucket, key, data, revision=revision)
        if revision == 0:
            return await self._kv.create(key, data)
        return await self._kv.update(key, data, last=revision)

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)

    def _remember(self, key: str, record: R, revision: int) -> None:
        if self._cache_size <= 0:
            return
        self._cache[key] = (record, revision)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
