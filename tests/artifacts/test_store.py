"""Artifacts: stored with a sha256 reference, verified on read, bounded in size."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import msgspec
import pytest
from nats.js import JetStreamContext
from nats.js.errors import ObjectNotFoundError

from handoff.artifacts.errors import ArtifactCorrupt, ArtifactMissing, ArtifactTooLarge
from handoff.artifacts.store import download_artifact, get_artifact, put_artifact
from handoff.schemas import names
from handoff.schemas.topology import Topology


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


async def test_a_file_artifact_streams_from_disk_and_downloads_into_a_file(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """A path is uploaded in chunks with its sha256 computed on the way; download_artifact writes it to a file."""
    source = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)  # many object-store chunks, not a multiple of the chunk size
    source.write_bytes(data)
    ref = await put_artifact(js, "task-1/files/big.bin", source, content_type="application/octet-stream")
    assert (ref.size_bytes, ref.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    target = tmp_path / "downloaded.bin"
    with target.open("wb") as out:
        await download_artifact(js, ref, out)
    assert target.read_bytes() == data


async def test_a_file_over_the_limit_is_refused_before_a_byte_is_sent(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """A file larger than the limit is refused from its size on disk, and nothing is stored."""
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 101)
    with pytest.raises(ArtifactTooLarge, match="101 bytes"):
        await put_artifact(js, "big-file", source, content_type="text/plain", max_bytes=100)
    store = await js.object_store(names.ARTIFACTS_BUCKET)
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("big-file")


async def test_an_object_larger_than_its_reference_is_not_downloaded(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """An object replaced by a larger one is refused from its metadata: nothing is written to the target."""
    ref = await put_artifact(js, "grows.txt", b"small", content_type="text/plain")
    await put_artifact(js, "grows.txt", b"much larger now" * 1000, content_type="text/plain")
    target = tmp_path / "out.txt"
    with target.open("wb") as out, pytest.raises(ArtifactCorrupt, match="expected 5"):
        await download_artifact(js, ref, out)
    assert target.read_bytes() == b""


async def test_objects_uploaded_at_once_download_intact_from_the_shared_stream(
    js: JetStreamContext, topology: Topology
) -> None:
    """Each download walks its own object's chunks in the stream, skipping chunks of an object stored meanwhile."""
    first, second = os.urandom(1024 * 1024 + 3), os.urandom(1024 * 1024 + 5)
    refs = await asyncio.gather(
        put_artifact(js, "one.bin", first, content_type="application/octet-stream"),
        put_artifact(js, "two.bin", second, content_type="application/octet-stream"),
    )
    info = await js.stream_info(f"OBJ_{names.ARTIFACTS_BUCKET}")
    assert info.state.messages == 2 * 9 + 2  # 9 chunks each and one metadata message each
    assert [await get_artifact(js, ref) for ref in refs] == [first, second]
