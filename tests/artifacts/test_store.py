"""Artifacts: stored with a sha256 reference, verified on read, bounded in size."""

from __future__ import annotations

import msgspec
import pytest
from nats.js import JetStreamContext
from nats.js.errors import ObjectNotFoundError

from schemas import names
from schemas.topology import Topology
from services.artifacts.errors import ArtifactCorrupt, ArtifactMissing, ArtifactTooLarge
from services.artifacts.store import get_artifact, put_artifact


async def test_an_artifact_round_trips_through_its_reference(js: JetStreamContext, topology: Topology) -> None:
    """put_artifact returns a reference with size and sha256; get_artifact returns the same bytes."""
    data = b"diff --git a/x b/x\n" * 10_000  # several object-store chunks
    ref = await put_artifact(js, "task-1/1/patch.diff", data, content_type="text/x-diff")
    assert ref.bucket == names.ARTIFACTS_BUCKET
    assert ref.size_bytes == len(data)
    assert ref.content_type == "text/x-diff"
    assert await get_artifact(js, ref) == data


async def test_an_artifact_over_the_limit_is_refused(js: JetStreamContext, topology: Topology) -> None:
    """Artifacts larger than the limit are refused with the setting's name, and nothing is stored."""
    with pytest.raises(ArtifactTooLarge, match="HANDOFF_ARTIFACT_MAX_BYTES"):
        await put_artifact(js, "big", b"x" * 101, content_type="text/plain", max_bytes=100)
    store = await js.object_store(names.ARTIFACTS_BUCKET)
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("big")


async def test_a_missing_or_tampered_artifact_is_reported(js: JetStreamContext, topology: Topology) -> None:
    """A reference to nothing raises ArtifactMissing; one whose sha256 differs raises ArtifactCorrupt."""
    ref = await put_artifact(js, "a.txt", b"hello", content_type="text/plain")
    with pytest.raises(ArtifactMissing):
        await get_artifact(js, msgspec.structs.replace(ref, name="nope.txt"))
    with pytest.raises(ArtifactCorrupt):
        await get_artifact(js, msgspec.structs.replace(ref, sha256="f" * 64))
