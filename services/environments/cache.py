"""Built environments kept per replica, keyed by what they contain, bounded in bytes, evicted least recently used.

Layout under the cache root::

    envs/<key>/          complete environments only (each holds ``handoff-env.json`` and ``last-used``)
    building/<key>-*/    builds in progress; renamed into ``envs/`` when complete, so a half-built one is never used
    locks/<key>.use      held shared by every task using the environment; eviction needs it exclusively
    locks/<key>.build    held exclusively by the one process building the key; others wait, then reuse its result

Locks are ``flock``s on files, so they hold across processes and die with their holder. Eviction runs after each
build and removes the least recently used environments nobody holds until the cache fits ``max_bytes`` (an
environment in use is never removed, so the bound can be exceeded while they are).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

META = "handoff-env.json"
LAST_USED = "last-used"
LOCK_POLL_S = 0.05


@dataclass(slots=True)
class Lease:
    """One task's use of an environment; the environment cannot be evicted until ``release()``."""

    path: Path
    hit: bool
    _fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class EnvCache:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    @property
    def envs(self) -> Path:
        return self.root / "envs"

    def path(self, key: str) -> Path:
        return self.envs / key

    def is_complete(self, key: str) -> bool:
        return (self.path(key) / META).is_file()

    async def acquire(self, key: str, build: Callable[[Path], Awaitable[dict[str, object]]]) -> Lease:
        """The environment of ``key``, built by ``build(tmp_dir)`` (returning metadata to record) if missing."""
        for sub in ("envs", "building", "locks"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        use = _open_lock(self.root / "locks" / f"{key}.use")
        try:
            await _lock(use, fcntl.LOCK_SH)
            hit = True
            if not self.is_complete(key):
                hit = not await self._build_once(key, build)
            (self.path(key) / LAST_USED).touch()
        except BaseException:
            os.close(use)
            raise
        if not hit:
            await asyncio.to_thread(self.evict, keep=key)
        return Lease(path=self.path(key), hit=hit, _fd=use)

    async def _build_once(self, key: str, build: Callable[[Path], Awaitable[dict[str, object]]]) -> bool:
        """Build ``key`` unless another builder finished it while this one waited. True if this call built it."""
        lock = _open_lock(self.root / "locks" / f"{key}.build")
        try:
            await _lock(lock, fcntl.LOCK_EX)
            if self.is_complete(key):
                return False
            for stale in (self.root / "building").glob(f"{key}-*"):  # left by a builder that died
                await asyncio.to_thread(shutil.rmtree, stale, ignore_errors=True)
            tmp = self.root / "building" / f"{key}-{uuid.uuid4().hex[:8]}"
            try:
                started = time.monotonic()
                meta = await build(tmp)
                size = await asyncio.to_thread(tree_size, tmp)
                meta = {**meta, "key": key, "size_bytes": size, "build_s": round(time.monotonic() - started, 3),
                        "built_at": time.time()}  # fmt: skip
                (tmp / META).write_text(json.dumps(meta, indent=1))
                if self.path(key).exists():  # an incomplete leftover (no META): never reused
                    await asyncio.to_thread(shutil.rmtree, self.path(key), ignore_errors=True)
                os.rename(tmp, self.path(key))
            except BaseException:
                await asyncio.shield(asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True))
                raise
            return True
        finally:
            os.close(lock)

    def entries(self) -> list[tuple[float, int, str]]:
        """``(last used, size in bytes, key)`` of every complete environment, least recently used first."""
        found = []
        for path in self.envs.iterdir() if self.envs.is_dir() else ():
            try:
                size = int(json.loads((path / META).read_text()).get("size_bytes", 0))
                used = (path / LAST_USED).stat().st_mtime if (path / LAST_USED).exists() else 0.0
            except (OSError, ValueError):
                continue
            found.append((used, size, path.name))
        return sorted(found)

    def total_bytes(self) -> int:
        return sum(size for _used, size, _key in self.entries())

    def evict(self, *, keep: str | None = None) -> list[str]:
        """Remove least recently used environments nobody holds until the cache fits; return the removed keys."""
        entries = self.entries()
        total = sum(size for _used, size, _key in entries)
        removed = []
        for _used, size, key in entries:
            if total <= self.max_bytes:
                break
            if key == keep:
                continue
            fd = _open_lock(self.root / "locks" / f"{key}.use")
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # in use
                trash = self.root / "building" / f"evicted-{key}-{uuid.uuid4().hex[:8]}"
                os.rename(self.path(key), trash)
            finally:
                os.close(fd)
            shutil.rmtree(trash, ignore_errors=True)
            total -= size
            removed.append(key)
        if removed:
            log.info("environments_evicted", keys=removed, total_bytes=total, max_bytes=self.max_bytes)
        return removed


def tree_size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


async def _lock(fd: int, mode: int) -> None:
    """Take an flock without blocking the event loop (polled, so a cancelled task stops waiting at once)."""
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            await asyncio.sleep(LOCK_POLL_S)
