"""Source trees in, source trees out: content-addressed snapshots in the ``handoff_snapshots`` object store.

A snapshot is a deterministic tarball of a tree's files; its sha256 is both its digest and its object name, so
identical trees are stored once. Submitters call ``upload_snapshot``; runners call ``materialize_snapshot`` to
get a fresh workspace per task.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

import structlog
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from schemas import names
from schemas.events import SourceSnapshot
from services.artifacts.errors import BucketMissing, SnapshotCorrupt, SnapshotMissing, SnapshotRefused
from services.artifacts.settings import SnapshotLimits
from services.artifacts.tarball import Tarball, build_tarball, extract_tarball, list_files

log = structlog.get_logger(__name__)


async def upload_snapshot(
    js: JetStreamContext,
    source: Path,
    *,
    files: Sequence[str] | None = None,
    limits: SnapshotLimits | None = None,
) -> SourceSnapshot:
    """Snapshot ``source`` (the files git tracks, or a directory walk; or exactly ``files``) and store it once.

    Raises ``SnapshotRefused`` for links escaping the tree, files over the limits, or an unreadable source.
    """
    limits = limits or SnapshotLimits.from_env()
    source = Path(source)
    if not source.is_dir():
        raise SnapshotRefused(f"source is not a directory: {source}")
    tarball = await asyncio.to_thread(_pack, source, files, limits)
    digest = hashlib.sha256(tarball.data).hexdigest()
    snapshot = SourceSnapshot(digest=digest, size_bytes=len(tarball.data), files=tarball.files)
    store = await _bucket(js, names.SNAPSHOTS_BUCKET)
    try:
        await store.get_info(digest)
    except NotFoundError:
        await store.put(digest, tarball.data)
        log.info("snapshot_uploaded", digest=digest, size_bytes=snapshot.size_bytes, files=snapshot.files)
    else:
        log.info("snapshot_already_stored", digest=digest, size_bytes=snapshot.size_bytes, files=snapshot.files)
    return snapshot


async def materialize_snapshot(
    js: JetStreamContext, snapshot: SourceSnapshot, dest: Path, *, limits: SnapshotLimits | None = None
) -> None:
    """Download ``snapshot``, check its digest and extract it into ``dest`` (created; must be empty).

    Raises ``SnapshotMissing`` if the object is gone, ``SnapshotCorrupt`` if it does not match, is unsafe, or is
    over the snapshot limits (the same ones ``upload_snapshot`` applies: a snapshot stored by other means is held
    to them too).
    """
    limits = limits or SnapshotLimits.from_env()
    try:
        store = await _bucket(js, names.SNAPSHOTS_BUCKET)
    except BucketMissing as err:
        raise SnapshotMissing(f"snapshot {snapshot.digest} cannot be found: {err}") from err
    try:
        result = await store.get(snapshot.digest)
    except NotFoundError:
        raise SnapshotMissing(
            f"snapshot {snapshot.digest} is not in bucket {names.SNAPSHOTS_BUCKET} (never uploaded, or expired)"
        ) from None
    data = bytes(result.data or b"")
    actual = hashlib.sha256(data).hexdigest()
    if actual != snapshot.digest:
        raise SnapshotCorrupt(f"snapshot {snapshot.digest} downloaded with sha256 {actual}")
    await asyncio.to_thread(extract_tarball, data, Path(dest), limits)


def _pack(source: Path, files: Sequence[str] | None, limits: SnapshotLimits) -> Tarball:
    try:
        return build_tarball(source, list_files(source, files), limits)
    except OSError as err:
        raise SnapshotRefused(f"cannot read the source tree {source}: {err}") from err


async def _bucket(js: JetStreamContext, bucket: str) -> ObjectStore:
    try:
        return await js.object_store(bucket)
    except BucketNotFoundError:
        raise BucketMissing(f"object store {bucket} does not exist; apply the topology first") from None
