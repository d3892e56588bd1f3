"""Extracting a snapshot tarball, safe by construction. Blocking; callers use a thread.

Handoff does not use ``tarfile.extractall`` or tarfile's extraction filters: ``tarfile`` only parses headers
here, and this module writes each member itself. Only regular files and directories are accepted; a symlink,
hard link, device, FIFO or any other member type is refused (snapshots never contain links, see
docs/security.md). So no path can be redirected: each directory is created and opened relative to its parent's
file descriptor with ``O_NOFOLLOW``, each file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` in its
directory's descriptor. Directories count against the file limit, sizes are checked from the headers before
anything is written and again while copying. On any refusal everything extracted so far is removed.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from handoff.artifacts.errors import SnapshotCorrupt
from handoff.artifacts.settings import SnapshotLimits

CHUNK_BYTES = 256 * 1024
MAX_NAME_BYTES = 1024  # a whole member path
MAX_COMPONENT_BYTES = 255  # one path component (NAME_MAX)
MAX_DEPTH = 64

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(slots=True)
class _Budget:
    limits: SnapshotLimits
    entries: int = 0  # files and directories created
    files: int = 0
    total_bytes: int = 0
    dirs: set[tuple[str, ...]] = field(default_factory=set)

    def count_entry(self, what: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_files:
            raise SnapshotCorrupt(
                f"snapshot holds more than {self.limits.max_files} files and directories ({what} is one too many; "
                "HANDOFF_SNAPSHOT_MAX_FILES)"
            )

    def add_bytes(self, name: str, size: int) -> None:
        if size > self.limits.max_file_bytes:
            raise SnapshotCorrupt(
                f"snapshot member {name}: {size} bytes exceed the per-file limit of {self.limits.max_file_bytes} "
                "(HANDOFF_SNAPSHOT_MAX_FILE_BYTES)"
            )
        self.total_bytes += size
        if self.total_bytes > self.limits.max_total_bytes:
            raise SnapshotCorrupt(
                f"snapshot extracts to more than {self.limits.max_total_bytes} bytes (HANDOFF_SNAPSHOT_MAX_BYTES)"
            )


def extract_stream(stream: IO[bytes], dest: Path, limits: SnapshotLimits) -> int:
    """Extract the tarball read from ``stream`` into ``dest`` (created; must be empty); return the file count.

    Raises ``SnapshotCorrupt`` (and leaves ``dest`` empty) for any member that is not a regular file or a
    directory, any unsafe or duplicate name, or a snapshot over ``limits``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise SnapshotCorrupt(f"refusing to extract into non-empty directory {dest}")
    root_fd = os.open(dest, _DIR_FLAGS)
    budget = _Budget(limits)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                parts = _safe_parts(member)
                if member.isdir():
                    _make_dirs(root_fd, parts, budget)
                elif member.isreg() and not member.issparse():
                    budget.add_bytes(member.name, member.size)
                    source = tar.extractfile(member)
                    assert source is not None  # a regular member always has a file object
                    _write_file(root_fd, parts, source, member, budget)
                else:
                    raise SnapshotCorrupt(f"unsupported member type in snapshot: {member.name!r} ({_kind(member)})")
    except (tarfile.TarError, OSError, SnapshotCorrupt) as err:
        _empty(dest)
        if isinstance(err, SnapshotCorrupt):
            raise
        raise SnapshotCorrupt(f"snapshot cannot be extracted safely: {err}") from err
    finally:
        os.close(root_fd)
    return budget.files


def _safe_parts(member: tarfile.TarInfo) -> tuple[str, ...]:
    name = member.name
    raw = name.encode("utf-8", errors="surrogateescape")
    if not name or len(raw) > MAX_NAME_BYTES or "\\" in name or "\x00" in name or name.startswith("/"):
        raise SnapshotCorrupt(f"unsafe path in snapshot: {name[:200]!r}")
    parts = tuple(p for p in PurePosixPath(name).parts if p != ".")
    if not parts or len(parts) > MAX_DEPTH or any(p == ".." for p in parts):
        raise SnapshotCorrupt(f"unsafe path in snapshot: {name[:200]!r}")
    if any(len(p.encode("utf-8", errors="surrogateescape")) > MAX_COMPONENT_BYTES for p in parts):
        raise SnapshotCorrupt(f"path component too long in snapshot: {name[:200]!r}")
    return parts


def _make_dirs(root_fd: int, parts: tuple[str, ...], budget: _Budget) -> None:
    fd = _open_parent(root_fd, (*parts, ""), budget)
    os.close(fd)


def _open_parent(root_fd: int, parts: tuple[str, ...], budget: _Budget) -> int:
    """A descriptor of the directory that holds ``parts[-1]``, creating (and counting) missing directories."""
    fd = os.dup(root_fd)
    try:
        for depth, part in enumerate(parts[:-1], start=1):
            key = parts[:depth]
            if key not in budget.dirs:
                budget.count_entry("/".join(key) + "/")
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    raise SnapshotCorrupt(f"snapshot member {'/'.join(key)} is both a file and a directory") from None
                budget.dirs.add(key)
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_file(
    root_fd: int, parts: tuple[str, ...], source: IO[bytes], member: tarfile.TarInfo, budget: _Budget
) -> None:
    if parts in budget.dirs:
        raise SnapshotCorrupt(f"snapshot member {member.name} is both a directory and a file")
    budget.count_entry(member.name)
    parent = _open_parent(root_fd, parts, budget)
    mode = 0o755 if member.mode & 0o111 else 0o644
    try:
        try:
            out = os.open(parts[-1], _FILE_FLAGS, mode, dir_fd=parent)
        except FileExistsError:
            raise SnapshotCorrupt(f"snapshot holds {member.name} twice") from None
    finally:
        os.close(parent)
    written = 0
    with os.fdopen(out, "wb") as sink:
        while chunk := source.read(CHUNK_BYTES):
            written += len(chunk)
            if written > member.size:  # the header's size is what the budget counted
                raise SnapshotCorrupt(f"snapshot member {member.name} is longer than its header says")
            sink.write(chunk)
        os.fchmod(sink.fileno(), mode)  # whatever the umask
    if written != member.size:
        raise SnapshotCorrupt(f"snapshot member {member.name} is shorter than its header says")
    budget.files += 1


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symlink; snapshots hold no links"
    if member.islnk():
        return "hard link; snapshots hold no links"
    if member.issparse():
        return "sparse file"
    return f"type {member.type!r}"


def _empty(dest: Path) -> None:
    """Remove whatever was extracted (only files and directories can be there: rmtree never follows links)."""
    for child in list(dest.iterdir()):
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
