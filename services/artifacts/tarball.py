"""Deterministic tarballs of source trees. Blocking; callers use a thread.

The same files with the same contents always give the same bytes: names sorted, mtimes, owners and groups
zeroed, modes normalised to 0644/0755. That makes the sha256 of the tarball a content address. A snapshot holds
regular files only: symbolic links are skipped and reported (``Tarball.skipped_links``), never stored, so the
extracting side can refuse every link (see ``handoff.artifacts.extract``).
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from handoff.artifacts.errors import SnapshotRefused
from handoff.artifacts.extract import extract_stream
from handoff.artifacts.settings import SnapshotLimits

SKIP_DIRS = frozenset(
    {".git", ".venv", "__pycache__", ".pytest_cache", "node_modules", ".mypy_cache", ".ruff_cache", ".tox"}
)
GIT_TIMEOUT_S = 30.0


class TarSink(Protocol):
    """Where a tarball is written: ``tarfile`` in write mode only calls ``write`` and ``tell``."""

    def write(self, chunk: bytes, /) -> int: ...

    def tell(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Tarball:
    """What was written: the number of files, and the symbolic links that were left out."""

    files: int
    skipped_links: tuple[str, ...] = ()


def list_files(source: Path, files: Sequence[str] | None = None) -> list[str]:
    """Relative POSIX paths to snapshot: ``files`` if given, what git tracks in a work tree, else a walk."""
    if files is not None:
        names = [_checked_name(name) for name in files]
    elif _is_git_work_tree(source):
        names = _git_tracked(source)
    else:
        names = _walk(source)
    return sorted(set(names))


def build_tarball(source: Path, names: Sequence[str], limits: SnapshotLimits, out: TarSink) -> Tarball:
    """Write the tarball of ``names`` under ``source`` into ``out`` as it is built (one file's block at a time)."""
    root = source.resolve()
    directories = {parent for name in names for parent in PurePosixPath(name).parents if parent.parts}
    if len(names) + len(directories) > limits.max_files:
        raise SnapshotRefused(
            f"{len(names)} files in {len(directories)} directories exceed the limit of {limits.max_files} "
            "files and directories (HANDOFF_SNAPSHOT_MAX_FILES)"
        )
    total = 0
    count = 0
    skipped: list[str] = []
    # typeshed asks for a readable, seekable file; write mode uses write() and tell() alone
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for name in sorted(names):
            path = source / name
            _check_inside(root, path.parent, name)
            try:
                st = path.lstat()
            except FileNotFoundError:
                raise SnapshotRefused(f"{name}: listed but not found under {source}") from None
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if stat.S_ISLNK(st.st_mode):
                skipped.append(name)  # links are never snapshotted: the extracting side refuses them all
                continue
            if stat.S_ISREG(st.st_mode):
                if st.st_size > limits.max_file_bytes:
                    raise SnapshotRefused(
                        f"{name}: {st.st_size} bytes exceed the per-file limit of {limits.max_file_bytes} "
                        "(HANDOFF_SNAPSHOT_MAX_FILE_BYTES)"
                    )
                total += st.st_size
                if total > limits.max_total_bytes:
                    raise SnapshotRefused(
                        f"the source tree exceeds the snapshot limit of {limits.max_total_bytes} bytes "
                        "(HANDOFF_SNAPSHOT_MAX_BYTES)"
                    )
                info.size = st.st_size
                info.mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                continue  # directories come implicitly; submodules, sockets and devices are not source
            count += 1
    return Tarball(files=count, skipped_links=tuple(skipped))


def extract_tarball(data: bytes, dest: Path, limits: SnapshotLimits | None = None) -> int:
    """Extract the tarball ``data`` into ``dest`` (created, must be empty) with ``extract.extract_stream``."""
    return extract_stream(io.BytesIO(data), dest, limits or SnapshotLimits())


def _checked_name(name: str) -> str:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "\x00" in name:
        raise SnapshotRefused(f"not a relative path inside the source tree: {name!r}")
    return path.as_posix()


def _check_inside(root: Path, directory: Path, name: str) -> None:
    resolved = directory.resolve()
    if resolved != root and root not in resolved.parents:
        raise SnapshotRefused(f"{name}: its directory resolves outside the source tree ({resolved})")


def _is_git_work_tree(source: Path) -> bool:
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:  # no git installed: walk the directory
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"


def _git_tracked(source: Path) -> list[str]:
    done = subprocess.run(
        ["git", "-C", str(source), "ls-files", "-z", "--cached"],
        capture_output=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise SnapshotRefused(f"git ls-files failed in {source}: {done.stderr.decode(errors='replace').strip()}")
    names = [raw.decode("utf-8", errors="surrogateescape") for raw in done.stdout.split(b"\0") if raw]
    # tracked but deleted in the work tree, or a submodule: not a file to snapshot
    return [name for name in names if (source / name).is_file() or (source / name).is_symlink()]


def _walk(source: Path) -> list[str]:
    if not source.is_dir():
        raise SnapshotRefused(f"source is not a directory: {source}")
    names: list[str] = []
    for directory, dirnames, filenames in os.walk(source):
        here = Path(directory)
        keep = []
        for d in dirnames:
            if d in SKIP_DIRS:
                continue
            if (here / d).is_symlink():
                filenames.append(d)  # snapshotted as a link, never followed
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            if f.endswith((".pyc", ".pyo")):
                continue
            names.append((here / f).relative_to(source).as_posix())
    return names
