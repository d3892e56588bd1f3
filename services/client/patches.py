"""Applying a test-generation task's patch to a work tree (``git apply``; the tree need not be a repository)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.client.errors import HandoffClientError


class PatchNotApplied(HandoffClientError):
    """``git apply`` refused the patch (the tree has moved on, or the files exist already); nothing was changed."""


async def apply_patch(work_tree: Path, patch: bytes) -> None:
    proc = await asyncio.create_subprocess_exec(
        "git", "apply", "--whitespace=nowarn", "-", cwd=work_tree,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate(patch)
    if proc.returncode != 0:
        raise PatchNotApplied(f"git apply failed: {out.decode(errors='replace').strip()[:300]}")
