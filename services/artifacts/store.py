"""Task artifacts (patches, generated files, reports) in the ``handoff_artifacts`` object store.

Events carry ``ArtifactRef``s (bucket, name, size, sha256), never the bytes. Uploads and downloads stream in the
object store's chunks, hashed and counted as they pass (``handoff.artifacts.streams``): a file is uploaded from
disk without being read into memory, and ``download_artifact`` writes into a file. Reads verify size and sha256;
a download that grows past the recorded size is stopped.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import IO

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from handoff.artifacts.chunks import ObjectVanished, read_chunks
from handoff.artifacts.errors import ArtifactCorrupt, ArtifactMissing, ArtifactTooLarge, BucketMissing
from handoff.artifacts.settings import artifact_max_bytes_from_env
from handoff.artifacts.streams import HashingReader, HashingWriter
from handoff.schemas import names
from handoff.schemas.events import ArtifactRef

MAX_NAME_CHARS = 512


async def put_artifact(
    js: JetStreamContext,
    name: str,
    data: bytes | Path,
    *,
    content_type: str,
    max_bytes: int | None = None,
) -> ArtifactRef:
    """Store ``data`` (bytes, or the file at a path, streamed from disk) under ``name`` (replacing an older object
    of that name) and return a reference to it."""
    limit = max_bytes if max_bytes is not None else artifact_max_bytes_from_env()
    size = (await asyncio.to_thread(data.stat)).st_size if isinstance(data, Path) else len(data)
    if size > limit:
        raise ArtifactTooLarge(
            f"artifact {name}: {size} bytes exceed the limit of {limit} (HANDOFF_ARTIFACT_MAX_BYTES)"
        )
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"artifact names are 1-{MAX_NAME_CHARS} characters, got {len(name)}")
    store = await _store(js)
    with data.open("rb") if isinstance(data, Path) else io.BytesIO(data) as source:
        reader = HashingReader(source)
        await store.put(name, reader, meta=ObjectMeta(name=name, description=content_type))  # type: ignore[arg-type]
    if reader.read_bytes > limit:  # the file grew after it was measured
        await store.delete(name)
        raise ArtifactTooLarge(
            f"artifact {name}: {reader.read_bytes} bytes exceed the limit of {limit} (HANDOFF_ARTIFACT_MAX_BYTES)"
        )
    return ArtifactRef(
        bucket=names.ARTIFACTS_BUCKET,
        name=name,
        size_bytes=reader.read_bytes,
        sha256=reader.sha256.hexdigest(),
        content_type=content_type,
    )


async def download_artifact(js: JetStreamContext, ref: ArtifactRef, out: IO[bytes]) -> None:
    """Write the bytes ``ref`` points at into ``out`` as they arrive; ``ArtifactMissing`` if gone,
    ``ArtifactCorrupt`` if they do not match (``out`` may then hold part of them)."""
    try:
        store = await js.object_store(ref.bucket)
    except BucketNotFoundError:
        raise ArtifactMissing(f"artifact {ref.name}: bucket {ref.bucket} does not exist") from None
    missing = f"artifact {ref.name} is not in bucket {ref.bucket} (never stored, or expired)"
    try:
        info = await store.get_info(ref.name)
    except NotFoundError:
        raise ArtifactMissing(missing) from None
    if info.options is not None and info.options.link is not None:
        raise ArtifactCorrupt(f"artifact {ref.name} is a link to another object; links are not followed")
    if (info.size or 0) != ref.size_bytes:
        raise ArtifactCorrupt(
            f"artifact {ref.name} does not match its reference (size {info.size}, expected {ref.size_bytes})"
        )

    def too_large(received: int) -> ArtifactCorrupt:
        return ArtifactCorrupt(f"artifact {ref.name} is larger than its reference ({ref.size_bytes} bytes)")

    sink = HashingWriter(out, max_bytes=ref.size_bytes, too_large=too_large)
    try:
        await read_chunks(js, ref.bucket, info, sink.write)
    except ObjectVanished:
        raise ArtifactMissing(missing) from None
    if sink.received != ref.size_bytes or sink.sha256.hexdigest() != ref.sha256:
        raise ArtifactCorrupt(
            f"artifact {ref.name} does not match its reference (size {sink.received}, expected {ref.size_bytes})"
        )


async def get_artifact(js: JetStreamContext, ref: ArtifactRef) -> bytes:
    """The bytes ``ref`` points at (``download_artifact`` into memory: for patches and small files)."""
    buffer = io.BytesIO()
    await download_artifact(js, ref, buffer)
    return buffer.getvalue()


async def _store(js: JetStreamContext) -> ObjectStore:
    try:
        return await js.object_store(names.ARTIFACTS_BUCKET)
    except BucketNotFoundError:
        raise BucketMissing(f"object store {names.ARTIFACTS_BUCKET} does not exist; apply the topology first") from None
