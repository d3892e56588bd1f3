"""Task artifacts (patches, generated files, reports) in the ``handoff_artifacts`` object store.

Events carry ``ArtifactRef``s (bucket, name, size, sha256), never the bytes. Reads verify size and sha256.
"""

from __future__ import annotations

import hashlib

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from schemas import names
from schemas.events import ArtifactRef
from services.artifacts.errors import ArtifactCorrupt, ArtifactMissing, ArtifactTooLarge, BucketMissing
from services.artifacts.settings import artifact_max_bytes_from_env

MAX_NAME_CHARS = 512


async def put_artifact(
    js: JetStreamContext,
    name: str,
    data: bytes,
    *,
    content_type: str,
    max_bytes: int | None = None,
) -> ArtifactRef:
    """Store ``data`` under ``name`` (replacing an older object of that name) and return a reference to it."""
    limit = max_bytes if max_bytes is not None else artifact_max_bytes_from_env()
    if len(data) > limit:
        raise ArtifactTooLarge(
            f"artifact {name}: {len(data)} bytes exceed the limit of {limit} (HANDOFF_ARTIFACT_MAX_BYTES)"
        )
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"artifact names are 1-{MAX_NAME_CHARS} characters, got {len(name)}")
    store = await _store(js)
    await store.put(name, data, meta=ObjectMeta(name=name, description=content_type))
    return ArtifactRef(
        bucket=names.ARTIFACTS_BUCKET,
        name=name,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type,
    )


async def get_artifact(js: JetStreamContext, ref: ArtifactRef) -> bytes:
    """The bytes ``ref`` points at; ``ArtifactMissing`` if gone, ``ArtifactCorrupt`` if they do not match."""
    try:
        store = await js.object_store(ref.bucket)
    except BucketNotFoundError:
        raise ArtifactMissing(f"artifact {ref.name}: bucket {ref.bucket} does not exist") from None
    try:
        result = await store.get(ref.name)
    except NotFoundError:
        raise ArtifactMissing(f"artifact {ref.name} is not in bucket {ref.bucket} (never stored, or expired)") from None
    data = bytes(result.data or b"")
    if len(data) != ref.size_bytes or hashlib.sha256(data).hexdigest() != ref.sha256:
        raise ArtifactCorrupt(
            f"artifact {ref.name} does not match its reference (size {len(data)}, expected {ref.size_bytes})"
        )
    return data


async def _store(js: JetStreamContext) -> ObjectStore:
    try:
        return await js.object_store(names.ARTIFACTS_BUCKET)
    except BucketNotFoundError:
        raise BucketMissing(f"object store {names.ARTIFACTS_BUCKET} does not exist; apply the topology first") from None
