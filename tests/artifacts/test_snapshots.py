"""Snapshots: deterministic, content-addressed, stored once, extracted safely."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.errors import BucketMissing, SnapshotCorrupt, SnapshotMissing, SnapshotRefused
from handoff.artifacts.settings import SnapshotLimits
from handoff.artifacts.snapshots import materialize_snapshot, store_snapshot, upload_snapshot
from handoff.artifacts.tarball import extract_tarball
from handoff.schemas import names
from handoff.schemas.events import SourceSnapshot
from handoff.schemas.topology import Topology


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    return root


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_a_directory_snapshot_round_trips_and_skips_caches(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """A plain directory is walked without .git/.venv/__pycache__/node_modules and comes back byte for byte."""
    src = _tree(tmp_path / "src")
    for junk in (".venv/lib/x.py", "__pycache__/calc.cpython-312.pyc", "node_modules/a/index.js", ".pytest_cache/v"):
        (src / junk).parent.mkdir(parents=True, exist_ok=True)
        (src / junk).write_text("junk")
    snapshot = await upload_snapshot(js, src)
    assert snapshot.files == 3
    dest = tmp_path / "dest"
    await materialize_snapshot(js, snapshot, dest)
    assert _files(dest) == {
        "pkg/__init__.py": "",
        "pkg/calc.py": "def add(a, b):\n    return a + b\n",
        "run.sh": "#!/bin/sh\necho hi\n",
    }
    assert os.access(dest / "run.sh", os.X_OK)


async def test_a_git_work_tree_snapshot_holds_only_tracked_files(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """In a git work tree only the files git tracks are snapshotted."""
    src = _tree(tmp_path / "repo")
    _git(src, "init", "-q")
    _git(src, "add", "pkg", "run.sh")
    _git(src, "commit", "-q", "-m", "init")
    (src / "scratch.txt").write_text("not tracked")
    snapshot = await upload_snapshot(js, src)
    dest = tmp_path / "dest"
    await materialize_snapshot(js, snapshot, dest)
    assert sorted(_files(dest)) == ["pkg/__init__.py", "pkg/calc.py", "run.sh"]


async def test_identical_trees_get_one_digest_and_are_stored_once(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """Same contents give the same digest whatever the mtimes; the second upload stores nothing new."""
    a = _tree(tmp_path / "a")
    b = _tree(tmp_path / "b")
    os.utime(b / "pkg" / "calc.py", (1_000_000, 1_000_000))
    first = await upload_snapshot(js, a)
    store = await js.object_store(names.SNAPSHOTS_BUCKET)
    messages_after_first = (await store.status()).stream_info.state.messages
    second = await upload_snapshot(js, b)
    assert second == first
    assert (await store.status()).stream_info.state.messages == messages_after_first
    (b / "pkg" / "calc.py").write_text("changed\n")
    third = await upload_snapshot(js, b)
    assert third.digest != first.digest


async def test_an_explicit_file_list_is_snapshotted_exactly(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """``files=`` picks exactly those files; a path leaving the tree is refused."""
    src = _tree(tmp_path / "src")
    snapshot = await upload_snapshot(js, src, files=["pkg/calc.py"])
    assert snapshot.files == 1
    with pytest.raises(SnapshotRefused, match="not a relative path"):
        await upload_snapshot(js, src, files=["../etc/passwd"])


async def test_symlinks_are_left_out_of_a_snapshot_and_reported(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """Links (into the tree, out of it, to a directory) are never snapshotted; store_snapshot names each."""
    src = _tree(tmp_path / "src")
    (src / "alias.py").symlink_to("pkg/calc.py")
    (tmp_path / "secret").write_text("s3cret")
    (src / "leak").symlink_to(tmp_path / "secret")
    (src / "pkgdir").symlink_to("pkg")
    stored = await store_snapshot(js, src)
    assert stored.skipped_links == ("alias.py", "leak", "pkgdir")
    assert stored.snapshot.files == 3
    dest = tmp_path / "dest"
    await materialize_snapshot(js, stored.snapshot, dest)
    assert sorted(_files(dest)) == ["pkg/__init__.py", "pkg/calc.py", "run.sh"]
    assert not any(p.is_symlink() for p in dest.rglob("*"))


async def test_a_tree_whose_directories_push_it_over_the_file_limit_is_refused_at_upload(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """Directories count against HANDOFF_SNAPSHOT_MAX_FILES when snapshotting, as they do when extracting."""
    src = _tree(tmp_path / "src")  # 3 files in 1 directory
    await upload_snapshot(js, src, limits=SnapshotLimits(max_files=4))
    with pytest.raises(SnapshotRefused, match="HANDOFF_SNAPSHOT_MAX_FILES"):
        await upload_snapshot(js, src, limits=SnapshotLimits(max_files=3))


async def test_files_over_the_size_limit_are_refused(js: JetStreamContext, topology: Topology, tmp_path: Path) -> None:
    """A file over the per-file limit, or a tree over the total limit, is refused with the setting's name."""
    src = _tree(tmp_path / "src")
    (src / "big.bin").write_bytes(b"x" * 2048)
    with pytest.raises(SnapshotRefused, match="HANDOFF_SNAPSHOT_MAX_FILE_BYTES"):
        await upload_snapshot(js, src, limits=SnapshotLimits(max_file_bytes=1024))
    with pytest.raises(SnapshotRefused, match="HANDOFF_SNAPSHOT_MAX_BYTES"):
        await upload_snapshot(js, src, limits=SnapshotLimits(max_total_bytes=2000))


async def test_a_missing_snapshot_raises_snapshot_missing(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """Materialising a digest nobody uploaded fails with SnapshotMissing."""
    ghost = SourceSnapshot(digest="0" * 64, size_bytes=10, files=1)
    with pytest.raises(SnapshotMissing, match="0000"):
        await materialize_snapshot(js, ghost, tmp_path / "dest")


async def test_a_snapshot_whose_bytes_do_not_match_its_digest_is_refused(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """An object stored under a digest that is not its sha256 is not extracted."""
    store = await js.object_store(names.SNAPSHOTS_BUCKET)
    await store.put("a" * 64, b"not the right bytes")
    with pytest.raises(SnapshotCorrupt, match="sha256"):
        await materialize_snapshot(js, SourceSnapshot(digest="a" * 64, size_bytes=19, files=1), tmp_path / "d")
    assert not (tmp_path / "d").exists()


async def test_without_the_topology_upload_names_the_missing_bucket(js: JetStreamContext, tmp_path: Path) -> None:
    """Uploading before the topology exists says which bucket is missing."""
    with pytest.raises(BucketMissing, match=names.SNAPSHOTS_BUCKET):
        await upload_snapshot(js, _tree(tmp_path / "src"))


def _evil_tar(member: tarfile.TarInfo, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "kind", "link"),
    [
        ("../escape.txt", tarfile.REGTYPE, ""),
        ("/abs/escape.txt", tarfile.REGTYPE, ""),
        ("a/../../escape.txt", tarfile.REGTYPE, ""),
        ("link", tarfile.SYMTYPE, "../outside"),
        ("link", tarfile.SYMTYPE, "/etc/passwd"),
        ("hard", tarfile.LNKTYPE, "../outside"),
        ("dev", tarfile.CHRTYPE, ""),
    ],
)
def test_extraction_refuses_members_that_could_escape_the_workspace(
    tmp_path: Path, name: str, kind: bytes, link: str
) -> None:
    """Absolute paths, '..', escaping links, hard links and devices are refused before anything is written."""
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = link
    dest = tmp_path / "dest"
    with pytest.raises(SnapshotCorrupt):
        extract_tarball(_evil_tar(member), dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


def test_extraction_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    """A workspace is always fresh: extracting over existing files is refused."""
    (tmp_path / "old.txt").write_text("old")
    member = tarfile.TarInfo("new.txt")
    with pytest.raises(SnapshotCorrupt, match="non-empty"):
        extract_tarball(_evil_tar(member), tmp_path)
