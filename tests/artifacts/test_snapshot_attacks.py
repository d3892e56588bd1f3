"""Hostile snapshots stored straight into ``handoff_snapshots`` (as any pipeline can): each is refused, nothing is
written outside the workspace, and the workspace is left empty."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from nats.js.api import ObjectLink, ObjectMeta, ObjectMetaOptions

from handoff.artifacts.errors import SnapshotCorrupt
from handoff.artifacts.runtime import tarfile_filter_fixes_missing
from handoff.artifacts.settings import SnapshotLimits
from handoff.artifacts.snapshots import materialize_snapshot
from handoff.artifacts.tarball import extract_tarball
from handoff.schemas import names
from handoff.schemas.events import SourceSnapshot
from handoff.schemas.topology import Topology
from tests.artifacts import tar_shapes


async def _store(js: JetStreamContext, data: bytes) -> SourceSnapshot:
    digest = hashlib.sha256(data).hexdigest()
    store = await js.object_store(names.SNAPSHOTS_BUCKET)
    await store.put(digest, data)
    return SourceSnapshot(digest=digest, size_bytes=len(data), files=1)


def _workspace(tmp_path: Path) -> Path:
    """A workspace three levels below ``tmp_path``: room for an escape to land in its parents."""
    return tmp_path / "host" / "a" / "b" / "ws"


def _everything(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


async def test_a_path_max_symlink_chain_writes_nothing_outside_the_workspace(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """The CVE-2025-4517 chain (links through PATH_MAX-long names, then a file through them) is refused."""
    snapshot = await _store(js, tar_shapes.path_max_chain(levels_up=2, payload="planted.txt"))
    ws = _workspace(tmp_path)
    with pytest.raises(SnapshotCorrupt, match="symlink"):
        await materialize_snapshot(js, snapshot, ws)
    assert [p for p in _everything(tmp_path) if p.endswith("planted.txt")] == []
    assert _everything(tmp_path / "host") == ["a", "a/b", "a/b/ws"]


async def test_a_two_step_symlink_leaves_no_link_out_of_the_tree(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """``l -> d/e/d/e/../..`` stored before ``d/e -> ..`` is refused; no link is left in the workspace."""
    snapshot = await _store(js, tar_shapes.two_step_link())
    ws = _workspace(tmp_path)
    with pytest.raises(SnapshotCorrupt, match="symlink"):
        await materialize_snapshot(js, snapshot, ws)
    assert _everything(ws) == []  # no ``l``, no ``d``


async def test_directories_count_against_the_file_limit(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """A tarball of 101 directories under a 100-entry limit is refused and what was created is removed."""
    snapshot = await _store(js, tar_shapes.directory_bomb(101))
    ws = _workspace(tmp_path)
    with pytest.raises(SnapshotCorrupt, match="HANDOFF_SNAPSHOT_MAX_FILES"):
        await materialize_snapshot(js, snapshot, ws, limits=SnapshotLimits(max_files=100))
    assert list(ws.iterdir()) == []


async def test_an_oversized_object_is_refused_from_its_metadata_before_download(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """An object larger than the limits allow is refused from get_info alone: nothing is downloaded."""
    limits = SnapshotLimits(max_total_bytes=4096, max_file_bytes=4096, max_files=4)
    snapshot = await _store(js, tar_shapes.one_file(limits.max_object_bytes + 1))
    ws = _workspace(tmp_path)
    with pytest.raises(SnapshotCorrupt, match="not downloaded"):
        await materialize_snapshot(js, snapshot, ws, limits=limits)
    assert not ws.exists() or list(ws.iterdir()) == []


async def test_a_snapshot_within_the_limits_but_with_a_file_over_them_is_refused_while_streaming(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """A member over the per-file limit is refused from its header; the workspace stays empty."""
    snapshot = await _store(js, tar_shapes.one_file(2048))
    ws = _workspace(tmp_path)
    with pytest.raises(SnapshotCorrupt, match="HANDOFF_SNAPSHOT_MAX_FILE_BYTES"):
        await materialize_snapshot(js, snapshot, ws, limits=SnapshotLimits(max_file_bytes=1024))
    assert list(ws.iterdir()) == []


async def test_a_link_object_in_the_snapshot_bucket_is_not_followed(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """An object-store link named like a snapshot (pointing at another bucket's object) is refused."""
    artifacts = await js.object_store(names.ARTIFACTS_BUCKET)
    await artifacts.put("someone-elses/patch.diff", b"private")
    store = await js.object_store(names.SNAPSHOTS_BUCKET)
    digest = "b" * 64
    link = ObjectLink(bucket=names.ARTIFACTS_BUCKET, name="someone-elses/patch.diff")
    await store.put(
        digest, b"", meta=ObjectMeta(name=digest, options=ObjectMetaOptions(link=link, max_chunk_size=128 * 1024))
    )
    with pytest.raises(SnapshotCorrupt, match="link"):
        await materialize_snapshot(js, SourceSnapshot(digest=digest, size_bytes=7, files=1), tmp_path / "ws")


def test_the_python_version_check_names_the_fixed_releases() -> None:
    """An interpreter without os.path.ALLOW_MISSING (the 2025 tarfile fixes) is named, with the fixed releases."""
    missing = tarfile_filter_fixes_missing()
    if hasattr(os.path, "ALLOW_MISSING"):
        assert missing is None
    else:
        assert missing is not None and "3.12.11" in missing and "CVE-2025-4517" in missing


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([("a.py", tarfile.REGTYPE), ("a.py", tarfile.REGTYPE)], "twice"),
        ([("a", tarfile.REGTYPE), ("a/b.py", tarfile.REGTYPE)], "both a file and a directory"),
        ([("d/x.py", tarfile.REGTYPE), ("d", tarfile.REGTYPE)], "both a directory and a file"),
        ([("fifo", tarfile.FIFOTYPE)], "unsupported member type"),
        ([("x" * 256, tarfile.REGTYPE)], "too long"),
        ([("/".join(["d"] * 65), tarfile.REGTYPE)], "unsafe path"),
    ],
    ids=["duplicate", "file-then-dir", "dir-then-file", "fifo", "long-component", "too-deep"],
)
def test_ambiguous_or_unsupported_members_are_refused_and_the_workspace_emptied(
    tmp_path: Path, members: list[tuple[str, bytes]], reason: str
) -> None:
    """Names stored twice, file/directory clashes, FIFOs, over-long or over-deep names: refused, nothing left."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    ws = tmp_path / "ws"
    with pytest.raises(SnapshotCorrupt, match=reason):
        extract_tarball(buffer.getvalue(), ws)
    assert _everything(ws) == []
