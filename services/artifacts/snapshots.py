"""Source trees in, source trees out: content-addressed snapshots in the ``handoff_snapshots`` object store.

A snapshot is a deterministic tarball of a tree's files; its sha256 is both its digest and its object name, so
identical trees are stored once. Submitters call ``upload_snapshot``; runners call ``materialize_snapshot`` to
get a fresh workspace per task.

Nothing holds a whole snapshot in memory: uploading writes the tarball into a temporary file, hashed and counted
as it is written, and the object store reads it from there chunk by chunk.

Materialising never trusts the object: its size is read from the object-store metadata and refused over the
limits before a byte is downloaded, the download streams into a temporary file (counted and hashed as it
arrives, so a store that lies about the size is cut off too), and ``handoff.artifacts.extract`` writes
regular files and directories only.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from nats.js import JetStreamContext
from nats.js.api import ObjectInfo
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from handoff.artifacts.chunks import ObjectVanished, read_chunks
from handoff.artifacts.errors import BucketMissing, SnapshotCorrupt, SnapshotMissing, SnapshotRefused
from handoff.artifacts.extract import extract_stream
from handoff.artifacts.settings import SnapshotLimits
from handoff.artifacts.streams import HashingWriter
from handoff.artifacts.tarball import Tarball, TarSink, build_tarball, list_files
from handoff.schemas import names
from handoff.schemas.events import SourceSnapshot

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    snapshot: SourceSnapshot
    skipped_links: tuple[str, ...]  # symbolic links in the source: never snapshotted


async def upload_snapshot(
    js: JetStreamContext,
    source: Path,
    *,
    files: Sequence[str] | None = None,
    limits: SnapshotLimits | None = None,
) -> SourceSnapshot:
    """Snapshot ``source`` (the files git tracks, or a directory walk; or exactly ``files``) and store it once.

    Symbolic links are skipped (logged; ``store_snapshot`` returns them). Raises ``SnapshotRefused`` for files
    over the limits, a directory that resolves outside the tree, or an unreadable source.
    """
    return (await store_snapshot(js, source, files=files, limits=limits)).snapshot


async def store_snapshot(
    js: JetStreamContext,
    source: Path,
    *,
    files: Sequence[str] | None = None,
    limits: SnapshotLimits | None = None,
) -> StoredSnapshot:
    """``upload_snapshot``, also saying which symbolic links of ``source`` were left out of the snapshot."""
    limits = limits or SnapshotLimits.from_env()
    source = Path(source)
    if not source.is_dir():
        raise SnapshotRefused(f"source is not a directory: {source}")
    with tempfile.TemporaryFile(prefix="handoff-snapshot-") as spool:
        sink = HashingWriter(spool, max_bytes=limits.max_object_bytes, too_large=_too_large_to_store)
        tarball = await asyncio.to_thread(_pack, source, files, limits, sink)
        digest = sink.sha256.hexdigest()
        snapshot = SourceSnapshot(digest=digest, size_bytes=sink.received, files=tarball.files)
        store = await _bucket(js, names.SNAPSHOTS_BUCKET)
        try:
            await store.get_info(digest)
        except NotFoundError:
            spool.seek(0)
            await store.put(digest, spool)  # type: ignore[arg-type]  # read chunk by chunk from the file
            log.info("snapshot_uploaded", digest=digest, size_bytes=snapshot.size_bytes, files=snapshot.files)
        else:
            log.info("snapshot_already_stored", digest=digest, size_bytes=snapshot.size_bytes, files=snapshot.files)
    if tarball.skipped_links:
        log.warning("snapshot_links_skipped", links=list(tarball.skipped_links[:20]), count=len(tarball.skipped_links))
    return StoredSnapshot(snapshot=snapshot, skipped_links=tarball.skipped_links)


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
        info = await store.get_info(snapshot.digest)
    except NotFoundError:
        raise SnapshotMissing(
            f"snapshot {snapshot.digest} is not in bucket {names.SNAPSHOTS_BUCKET} (never uploaded, or expired)"
        ) from None
    _check_info(snapshot, info, limits)
    with tempfile.TemporaryFile(prefix="handoff-snapshot-") as spool:

        def too_large(received: int) -> SnapshotCorrupt:
            return SnapshotCorrupt(
                f"snapshot {snapshot.digest} is larger than its metadata says (over {limits.max_object_bytes} "
                "bytes); download stopped"
            )

        sink = HashingWriter(spool, max_bytes=limits.max_object_bytes, too_large=too_large)
        try:
            await read_chunks(js, names.SNAPSHOTS_BUCKET, info, sink.write)
        except ObjectVanished:
            raise SnapshotMissing(f"snapshot {snapshot.digest} disappeared while it was downloaded") from None
        actual = sink.sha256.hexdigest()
        if actual != snapshot.digest:
            raise SnapshotCorrupt(f"snapshot {snapshot.digest} downloaded with sha256 {actual}")
        spool.seek(0)
        await asyncio.to_thread(extract_stream, spool, Path(dest), limits)


def _check_info(snapshot: SourceSnapshot, info: ObjectInfo, limits: SnapshotLimits) -> None:
    """Refuse from the metadata alone: links to other objects or buckets, and objects over the limits."""
    if info.options is not None and info.options.link is not None:
        raise SnapshotCorrupt(f"snapshot {snapshot.digest} is a link to another object; links are not followed")
    size = info.size or 0
    if size > limits.max_object_bytes:
        raise SnapshotCorrupt(
            f"snapshot {snapshot.digest} is {size} bytes in the object store, over the {limits.max_object_bytes} "
            "bytes the snapshot limits allow (HANDOFF_SNAPSHOT_MAX_BYTES, HANDOFF_SNAPSHOT_MAX_FILES); not downloaded"
        )


def _too_large_to_store(received: int) -> SnapshotRefused:
    return SnapshotRefused(
        f"the snapshot tarball passed {received} bytes, over the snapshot limits (HANDOFF_SNAPSHOT_MAX_BYTES)"
    )


def _pack(source: Path, files: Sequence[str] | None, limits: SnapshotLimits, out: TarSink) -> Tarball:
    try:
        return build_tarball(source, list_files(source, files), limits, out)
    except OSError as err:
        raise SnapshotRefused(f"cannot read the source tree {source}: {err}") from err


async def _bucket(js: JetStreamContext, bucket: str) -> ObjectStore:
    try:
        return await js.object_store(bucket)
    except BucketNotFoundError:
        raise BucketMissing(f"object store {bucket} does not exist; apply the topology first") from None
